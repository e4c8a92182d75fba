"""The command line: one thin function per command (options -> workflow -> render).

Heavy modules (httpx, rich, sqlite-utils, bs4) are imported inside the commands so that
``abook --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .runtime import Globals, command_run

app = typer.Typer(
    name="abook",
    help=(
        "Keep an Audiobookshelf library growing and tidy, unattended.\n\n"
        "Settings come from .env / the environment (see .env.example). Run from cron or systemd "
        "timers (see contrib/). Exit codes: 0 done, 1 some items failed, 2 usage/config error, "
        "3 service unreachable or refused credentials, 4 ratio hold, 75 another run holds the lock. "
        "Notifications (NOTIFY_URLS) and a metrics file (METRICS_FILE): see the README."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # never print locals: they hold tokens
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help="Show what would change; change nothing.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output (schema in the README).")]


def _g(ctx: typer.Context) -> Globals:
    return ctx.obj if isinstance(ctx.obj, Globals) else Globals()


def _version(value: bool) -> None:
    # Eager: runs before Click asks for a command, so `abook --version` alone works.
    if value:
        from . import __version__

        typer.echo(f"abook {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="Settings file (default ./.env, then $XDG_CONFIG_HOME/abook/.env).")
    ] = None,
    db: Annotated[Path | None, typer.Option("--db", help="State file (overrides ABOOK_DB).")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log lines (-vv for debug).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = Globals(env_file=env_file, db=db, verbose=verbose, quiet=quiet)


@app.command()
def scan(
    ctx: typer.Context,
    dry_run: DryRun = False,
    library: Annotated[str | None, typer.Option(help="Library name or id (overrides ABS_LIBRARY).")] = None,
) -> None:
    """Mirror the Audiobookshelf library into the state file (incremental).

    Prints "+N new, ~M changed, -K removed". New or changed items are read from the item pages
    with the library's own author, series and narrator names; only those the names cannot settle
    are fetched in full.

    Examples:

      abook scan

      abook scan --dry-run --library Audiobooks
    """
    from . import render
    from .workflows import scan as wf

    with command_run(_g(ctx), "scan", {"library": library}, dry_run=dry_run,
                     overrides={"ABS_LIBRARY": library}) as run:
        result = wf.run(run.services.abs(), run.state, library=run.settings.abs_library,
                        dry_run=dry_run, progress=run.progress())
        render.scan(result)
        run.conclude(result)


@app.command()
def top10(
    ctx: typer.Context,
    dry_run: DryRun = False,
    genre: Annotated[list[str] | None, typer.Option("--genre", "-g", help="Genre (repeatable); default TOP10_GENRES.")] = None,
    count: Annotated[int | None, typer.Option(min=1, help="New books per genre (TOP10_COUNT).")] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Only torrents added in the last N days (TOP10_DAYS).")] = None,
    source: Annotated[str | None, typer.Option(help="mam or prowlarr (SEARCH_SOURCE).")] = None,
) -> None:
    """Queue the week's most snatched new audiobooks per genre, never one already owned.

    Walks the tracker's ranking and skips what is owned, queued, already in qBittorrent,
    snatched before, not an audiobook, or not the wanted language/edition; takes the next
    until exactly N new books per genre are covered. Exits 4 while the ratio hold is on.

    Examples:

      abook top10 --dry-run

      abook top10 --genre Fantasy --count 5 --days 7
    """
    from . import render
    from .times import utcnow
    from .workflows import top10 as wf

    overrides = {"TOP10_GENRES": tuple(genre) if genre else None, "TOP10_COUNT": count,
                 "TOP10_DAYS": days, "SEARCH_SOURCE": source}
    with command_run(_g(ctx), "top10", {"genre": genre, "count": count, "days": days, "source": source},
                     overrides=overrides, dry_run=dry_run) as run:
        st = run.settings
        st.require("TOP10_GENRES", "TOP10_COUNT", "TOP10_DAYS", "SEARCH_SOURCE")
        result = wf.run(
            run.state, run.services.acquisition(source, dry_run=dry_run),
            genres=list(st.top10_genres), count=st.top10_count, days=st.top10_days, now=utcnow(),
            dry_run=dry_run, task_id=run.task_id, progress=run.progress(),
        )
        render.top10(result)
        run.conclude(result)


@app.command()
def downloads(
    ctx: typer.Context,
    dry_run: DryRun = False,
    retry: Annotated[int | None, typer.Option("--retry", metavar="ID", help="Give a failed download another round of retries.")] = None,
) -> None:
    """Advance every download: pending -> queued -> downloading -> completed -> imported -> done.

    Submits pending grabs while fewer than MAX_ACTIVE_DOWNLOADS are active, retries broken or
    stalled ones up to DOWNLOAD_RETRIES, imports finished books into Audiobookshelf and fills
    their empty fields from what the tracker said. Never deletes or stops a torrent.

    Examples:

      abook downloads

      abook downloads --dry-run

      abook downloads --retry 42
    """
    from . import render
    from .acquisition import Policy
    from .times import utcnow
    from .workflows import downloads as wf

    with command_run(_g(ctx), "downloads", {"retry": retry}, dry_run=dry_run) as run:
        st, svc = run.settings, run.services
        st.require("MAX_ACTIVE_DOWNLOADS", "DOWNLOAD_RETRIES", "STALL_HOURS", "ABS_SCAN_TIMEOUT")
        result = wf.run(
            run.state, svc.qbt(), svc.abs() if st.configured("ABS_URL") else None, Policy.from_settings(st),
            wf.Options.from_settings(st), now=utcnow, dry_run=dry_run, task_id=run.task_id,
            guard=svc.download_guard(dry_run=dry_run), fetch=svc.fetcher(), progress=run.progress(), retry=retry,
        )
        render.downloads(result)
        run.conclude(result)


@app.command("fix-metadata")
def fix_metadata(
    ctx: typer.Context,
    dry_run: DryRun = False,
    new: Annotated[bool, typer.Option("--new", help="Books added recently (last 7 days or --since).")] = False,
    all_books: Annotated[bool, typer.Option("--all", help="Every book (the monthly full pass).")] = False,
    since: Annotated[str | None, typer.Option(help="With --new: how recent, e.g. 3d, 2w.")] = None,
    item: Annotated[str | None, typer.Option(help="One ABS item id.")] = None,
    force: Annotated[bool, typer.Option(help="Ask again even if checked within METADATA_RECHECK_DAYS.")] = False,
    limit: Annotated[int | None, typer.Option("--max", min=1, help="Books this run (METADATA_DAILY_MAX).")] = None,
    tidy_titles: Annotated[bool, typer.Option(
        "--tidy-titles", help="Also take series labels, edition tags and 'A Novel' out of existing titles "
        "and subtitles (each change recorded).")] = False,
) -> None:
    """Fill EMPTY metadata fields from verified matches; never overwrite; record every source.

    Sources in METADATA_SOURCES order (Google Books first); a later source fills only what an
    earlier one left empty; a source's subtitle that is only a series label ("The Expanse,
    Book 2") fills the series instead. Without --new/--all/--item: never-checked books first,
    then the oldest checks, at most METADATA_DAILY_MAX. --dry-run prints the diff.
    --tidy-titles (opt-in) rewrites titles like "Mistborn: The Hero of Ages [Unabridged]" as
    "The Hero of Ages" (series Mistborn #3) for the books of --new/--all/--item (every book
    otherwise, at most --max).

    Examples:

      abook fix-metadata --new

      abook fix-metadata --all --dry-run

      abook fix-metadata --tidy-titles --dry-run

      abook fix-metadata --item 8255aa41-7711-435c-8a03-c68b8e98170b --force
    """
    from . import render
    from .times import utcnow
    from .workflows import metadata as wf

    mode = "all" if all_books else "new" if new else "default"
    with command_run(_g(ctx), "fix-metadata", {"mode": mode, "since": since, "item": item, "force": force,
                     "max": limit, "tidy_titles": tidy_titles}, dry_run=dry_run) as run:
        st, svc = run.settings, run.services
        st.require("METADATA_SOURCES", "METADATA_DAILY_MAX", "METADATA_RETRIES", "METADATA_RECHECK_DAYS")
        selection = wf.Selection.from_options(
            new=new, all_books=all_books, since=since, item=item, force=force, limit=limit,
            daily_max=st.metadata_daily_max, recheck_days=st.metadata_recheck_days,
        )
        result = wf.run(run.state, selection, sources=lambda: svc.sources(st.metadata_sources), abs_client=svc.abs,
                        now=utcnow, retries=st.metadata_retries, backoff=st.http_backoff, dry_run=dry_run,
                        task_id=run.task_id, progress=run.progress(), tidy_titles=tidy_titles)
        render.metadata(result)
        run.conclude(result)


@app.command()
def doctor(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Check every configured service: reachable, credentials accepted, version.

    Exits 3 if a configured service fails.

    Examples:

      abook doctor

      abook doctor --json
    """
    from . import render
    from .config import file_warnings
    from .workflows import doctor as wf

    with command_run(_g(ctx), "doctor", {}, lock=False) as run:
        st = run.settings
        result = wf.run(run.services.connectors(), library=st.abs_library, category=st.qb_category,
                        warnings=file_warnings(st))
        if any(c.configured for c in result.checks):
            render.doctor(result, as_json)
        run.conclude(result)


@app.command()
def report(
    ctx: typer.Context,
    as_json: AsJson = False,
    since: Annotated[str | None, typer.Option(help="How far back recent sections go: 7d, 2w, 36h.")] = None,
    notify: Annotated[bool, typer.Option("--notify", help="Also send the summary as the weekly notification (NOTIFY_URLS).")] = False,
    prometheus: Annotated[Path | None, typer.Option("--prometheus", metavar="FILE", help="Also write the metrics file (node_exporter textfile format) to FILE.")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="A live view: the summary and the downloads in flight, until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=1, metavar="SECONDS", help="With --watch: seconds between refreshes.")] = 10,
) -> None:
    """Print what happened (the summary first), then the library, pipeline, gaps, failures and account.

    Examples:

      abook report

      abook report --json --since 30d

      abook report --watch

      abook report --notify --prometheus /var/lib/prometheus/node-exporter/abook.prom
    """
    from . import render
    from .times import parse_since
    from .workflows import report as wf

    if watch:
        with command_run(_g(ctx), "report", {"watch": True}, lock=False, record=False) as run:
            if as_json or notify or prometheus:
                from .errors import ConfigError

                raise ConfigError("--watch shows a live view: run it without --json, --notify or --prometheus")
            st = run.settings
            options = wf.ReportOptions.from_settings(st, since_days=parse_since(since))
            qbt = run.services.qbt() if st.configured("QB_URL") else None
            render.watch(lambda: wf.live(run.state, qbt, options), interval=interval)
        return
    with command_run(_g(ctx), "report", {"since": since, "notify": notify, "prometheus": bool(prometheus)},
                     lock=False) as run:
        result = wf.run(run.state, since=since, options=wf.ReportOptions.from_settings(run.settings),
                        notify=notify, metrics=prometheus is not None)
        for warning in result.warnings:
            render.log.warning("%s", warning)
        render.report(result.data, as_json)
        if prometheus is not None and result.metrics is not None:
            render.prometheus(result.metrics, prometheus)
        run.conclude(result)


@app.command("notify")
def notify_command(
    ctx: typer.Context,
    test: Annotated[bool, typer.Option("--test", help="Send one test message to every NOTIFY_URLS target.")] = False,
) -> None:
    """Show how notifications are set up; --test sends one message to every target.

    Events (NOTIFY_ON): failure, hold, vip, import, weekly (see the README). Exits 3 when a test
    message did not reach every target, 2 when NOTIFY_URLS is not set.

    Examples:

      abook notify

      abook notify --test
    """
    import socket

    from . import render
    from .workflows import notifications as wf

    with command_run(_g(ctx), "notify", {"test": test}, lock=False, record=False) as run:
        st = run.settings
        if test:
            st.require("NOTIFY_URLS")
        result = wf.run(run.state, st.notify_urls, st.notify_on, test=test, host=socket.gethostname())
        render.notify(result)
        run.conclude(result)


@app.command("ratio-check")
def ratio_check(
    ctx: typer.Context,
    dry_run: DryRun = False,
    buy_vip: Annotated[bool, typer.Option("--buy-vip", help="Buy VIP with bonus points when it runs out within VIP_WARN_DAYS (AUTO_BUY_VIP).")] = False,
    buy_upload: Annotated[float | None, typer.Option("--buy-upload", metavar="GB", min=0, help="Buy GB of upload credit when the ratio is below RATIO_FLOOR (AUTO_BUY_UPLOAD_GB).")] = None,
    as_json: AsJson = False,
) -> None:
    """Watch the tracker account; hold and pause abook's downloads when the ratio is low.

    Stores a snapshot of the account. Below RATIO_FLOOR, or with fewer than UNSAT_MARGIN
    unsatisfied-torrent slots free, it sets the hold and pauses abook's torrents that are
    still downloading (never a seeding one) and exits 4; at RATIO_RESUME or above with slots
    free it clears the hold and resumes exactly the torrents it paused. Warns when VIP ends
    within VIP_WARN_DAYS. Shows the upload buffer, abook's own grabs MAM does not count yet,
    the wedges, and what `abook downloads` would do with each pending pick (--dry-run reads
    their flags again); lists the seeding abook's torrents still owe (MAM's snatch data, else
    qBittorrent's clock against SEED_MIN_HOURS + 12 h), hit-and-run risks first.

    Examples:

      abook ratio-check

      abook ratio-check --dry-run --buy-upload 50

      abook ratio-check --buy-vip --json
    """
    from . import render
    from .times import utcnow
    from .workflows import ratio as wf

    overrides = {"AUTO_BUY_VIP": True if buy_vip else None, "AUTO_BUY_UPLOAD_GB": buy_upload}
    with command_run(_g(ctx), "ratio-check", {"buy_vip": buy_vip, "buy_upload": buy_upload},
                     overrides=overrides, dry_run=dry_run) as run:
        st = run.settings
        st.require("RATIO_FLOOR", "RATIO_RESUME", "UNSAT_MARGIN", "SEED_MIN_HOURS", "VIP_WARN_DAYS",
                   "AUTO_BUY_VIP", "AUTO_BUY_UPLOAD_GB", "BUFFER_MIN_GB", "WEDGE_MIN_GB", "WEDGE_RESERVE",
                   "MAX_ACTIVE_DOWNLOADS")
        svc = run.services
        result = wf.run(run.state, svc.mam(), svc.qbt() if st.configured("QB_URL") else None,
                        wf.CheckOptions.from_settings(st), now=utcnow(), dry_run=dry_run, task_id=run.task_id,
                        progress=run.progress())
        render.ratio_check(result, as_json)
        run.conclude(result)


MaxGaps = Annotated[int | None, typer.Option("--max", min=0, metavar="N",
                    help="Books to queue this run (GAP_MAX_DOWNLOADS_PER_RUN); 0 = only find the gaps.")]
Novellas = Annotated[bool, typer.Option("--include-novellas",
                     help="Also want novellas / short works (positions like 0.5, 2.5).")]


def _fill(ctx: typer.Context, kind: str, dry_run: bool, limit: int | None, include_novellas: bool,
          series: str | None = None, author: str | None = None) -> None:
    """fill-series / fill-authors: options -> gaps.run -> render (the two differ only in ``kind``)."""
    from . import render
    from .bibliography import SERIES_GAP
    from .times import utcnow
    from .workflows import gaps as wf

    command = "fill-series" if kind == SERIES_GAP else "fill-authors"
    args = {"series": series, "author": author, "max": limit, "include_novellas": include_novellas}
    with command_run(_g(ctx), command, args, dry_run=dry_run,
                     overrides={"GAP_MAX_DOWNLOADS_PER_RUN": limit}) as run:
        st, svc = run.settings, run.services
        st.require("BIBLIOGRAPHY_SOURCES", "GAP_MAX_DOWNLOADS_PER_RUN", "GAP_RETRY_DAYS", "AUTHOR_MIN_OWNED")
        sources = svc.sources(st.bibliography_sources)
        wants_fetch = st.gap_max_downloads_per_run > 0  # --max 0: find the gaps, no tracker needed
        acq = svc.acquisition(dry_run=dry_run, qbt=not dry_run) if wants_fetch else None
        result = wf.run(
            run.state, sources, acq, kind=kind, now=utcnow(),
            limit=st.gap_max_downloads_per_run, retry_days=st.gap_retry_days,
            author_min_owned=st.author_min_owned, include_novellas=include_novellas, series=series,
            author=author, languages=tuple(st.languages), dry_run=dry_run, task_id=run.task_id,
            progress=run.progress(),
        )
        render.gaps(result)
        run.conclude(result)


@app.command("fill-series")
def fill_series(
    ctx: typer.Context,
    dry_run: DryRun = False,
    series: Annotated[str | None, typer.Option("--series", metavar="NAME", help="Only this series.")] = None,
    limit: MaxGaps = None,
    include_novellas: Novellas = False,
) -> None:
    """Find and queue the books missing from every series you own at least one book of.

    Bibliographies come from BIBLIOGRAPHY_SOURCES (first source that knows the series wins,
    whatever it calls it; cached 7 days). Only whole-number positions are wanted; omnibus / box
    sets and translations never are. Each missing book is searched with at most 6 paced queries
    (the title as written first, looser forms after) and ends queued, in_library, not_found or
    unwanted (see `abook missing -v`). Queues at most GAP_MAX_DOWNLOADS_PER_RUN (best torrent
    each: freeleech/VIP, m4b, seeders); the rest wait for the next run. Exits 1 when a source or
    a search failed, 4 while the ratio hold is on.

    Examples:

      abook fill-series --dry-run

      abook fill-series --series "The Expanse" --max 3
    """
    from .bibliography import SERIES_GAP

    _fill(ctx, SERIES_GAP, dry_run, limit, include_novellas, series=series)


@app.command("fill-authors")
def fill_authors(
    ctx: typer.Context,
    dry_run: DryRun = False,
    author: Annotated[str | None, typer.Option("--author", metavar="NAME", help="Only this author.")] = None,
    limit: MaxGaps = None,
    include_novellas: Novellas = False,
) -> None:
    """Find and queue the audiobooks missing from every author you own AUTHOR_MIN_OWNED books of.

    Multi-author anthologies neither make an author "collected" nor count as missing.
    Same choice of torrents, batch size and hold rules as fill-series.

    Examples:

      abook fill-authors --dry-run

      abook fill-authors --author "Andy Weir" --max 2
    """
    from .bibliography import AUTHOR_GAP

    _fill(ctx, AUTHOR_GAP, dry_run, limit, include_novellas, author=author)


@app.command()
def missing(
    ctx: typer.Context,
    series: Annotated[str | None, typer.Option("--series", metavar="NAME", help="Only this series.")] = None,
    author: Annotated[str | None, typer.Option("--author", metavar="NAME", help="Only this author.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="Also why each book stands there and the tracker queries tried.")] = False,
    as_json: AsJson = False,
) -> None:
    """List what each series and author lacks, in reading order, with its status.

    Statuses: wanted, queued, downloading, in_library, not_found (the searches answered, no
    torrent was the book), unwanted (the tracker has it only abridged, in another language, as
    an ebook or in parts). -v shows the reason and the queries the last search tried. Reads the
    state file only (run fill-series / fill-authors to refresh it).

    Examples:

      abook missing

      abook missing -v --series "The Expanse"

      abook missing --series "The Expanse" --json
    """
    from . import render
    from .workflows import missing as wf

    with command_run(_g(ctx), "missing", {"series": series, "author": author}, lock=False, record=False) as run:
        result = wf.run(run.state, series=series, author=author)
        render.missing(result, as_json, verbose=verbose or _g(ctx).verbose > 0)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Title (and any words) to look for.")],
    author: Annotated[str, typer.Option(help="Author, to narrow the search.")] = "",
    source: Annotated[str | None, typer.Option(help="mam or prowlarr (SEARCH_SOURCE).")] = None,
    queue: Annotated[str | None, typer.Option("--queue", metavar="TORRENT_ID", help="Queue this result.")] = None,
    force: Annotated[bool, typer.Option(help="With --queue: queue it even if owned / unwanted.")] = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Search the tracker once and show, for every result, whether you own it.

    Each result gets the verdict top10 would reach: new, owned, near_miss, queued or unwanted
    (with the reason). --queue TORRENT_ID grabs one through the usual path (ratio guard, hold,
    MAX_ACTIVE_DOWNLOADS). With the global -v (abook -v search ...), each result also shows the
    book it was compared with and the parts of the verdict.

    Examples:

      abook search "Project Hail Mary" --author "Andy Weir"

      abook search "The Way of Kings" --queue 123456
    """
    from . import render
    from .workflows import lookup as wf

    with command_run(_g(ctx), "search", {"query": query, "author": author, "queue": queue},
                     overrides={"SEARCH_SOURCE": source}, dry_run=dry_run, lock=queue is not None,
                     record=queue is not None) as run:
        run.settings.require("SEARCH_SOURCE")
        acq = run.services.acquisition(source, dry_run=dry_run or queue is None, qbt=queue is not None and not dry_run)
        result = wf.run(run.state, acq, query=query, author=author, queue=queue, force=force, dry_run=dry_run,
                        task_id=run.task_id)
        render.lookup(result, as_json, verbose=_g(ctx).verbose)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
