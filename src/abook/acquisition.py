"""What a grab may take: the one judgement of a release, and what every acquisition works with.

Pure: :func:`judge` (the single verdict ``top10``, ``search``, ``fill-series`` and ``fill-authors``
reach for one release), :class:`Policy`, :func:`screen` and :func:`release_rank`. The set those
commands work with is :class:`abook.search.Acquisition`; the state-file lookups a verdict needs and
the grab itself are in :mod:`abook.workflows.grab`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .models import DownloadStatus, Judgement

if TYPE_CHECKING:
    from .matching import LibraryIndex, Match
    from .models import BookRef, Release

#: guard(release) -> why this grab must wait, or None (see :mod:`abook.guard`)
Guard = Callable[["Release"], "str | None"]


@dataclass(frozen=True)
class Policy:
    """What a grab may take and where it goes (from Settings)."""

    languages: tuple[str, ...] = ("English",)
    allow_abridged: bool = False
    allow_dramatized: bool = False
    category: str = "audiobooks"
    tags: tuple[str, ...] = ("abook",)
    save_path: str = ""
    max_active: int = 10

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        return cls(
            languages=tuple(settings.languages),
            allow_abridged=settings.allow_abridged,
            allow_dramatized=settings.allow_dramatized,
            category=settings.qb_category,
            tags=tuple(settings.qb_tags),
            save_path=settings.qb_save_path,
            max_active=settings.max_active_downloads,
        )


def screen(release: Release, policy: Policy) -> str | None:
    """Why this release must not be grabbed at all, or None. Pure."""
    from .matching import edition_class, language_ok

    if release.main_category and release.main_category != "audiobook":
        return f"not an audiobook ({release.main_category})"
    if release.my_snatched:
        return "snatched before"
    if release.language and policy.languages and not language_ok(release.language, policy.languages):
        return f"language {release.language}"
    classes = edition_class(release.title, release.tags, release.description)
    if "summary" in classes:
        return "a summary / study guide"
    if "omnibus" in classes:
        return "an omnibus / box set"
    if "abridged" in classes and not policy.allow_abridged:
        return "abridged edition"
    if "dramatized" in classes and not policy.allow_dramatized:
        return "dramatized / full-cast edition"
    return None


def release_rank(release: Release) -> tuple[int, int, int, int]:
    """Which of several acceptable torrents of one book to take (higher is better): has
    seeders, freeleech/VIP, m4b over mp3, more seeders."""
    types = {t.lower() for t in release.filetypes}
    return (
        1 if release.seeders > 0 else 0,
        1 if (release.freeleech or release.personal_freeleech or release.vip) else 0,
        1 if "m4b" in types else 0,
        release.seeders,
    )


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge` says of one release, and why."""

    kind: Judgement
    reason: str
    mine: Mapping[str, Any] | None = None  # abook's own earlier download of this very torrent
    match: Match | None = None  # the owned (or wanted) book it was compared with

    @property
    def grabbable(self) -> bool:
        return self.kind == Judgement.NEW


def judge(
    release: Release,
    policy: Policy,
    *,
    owned: LibraryIndex,
    queued: LibraryIndex,
    mine: Mapping[str, Any] | None = None,
    target: BookRef | None = None,
) -> Verdict:
    """The one verdict on one release. Pure: ``mine`` is abook's own record of this very torrent
    (by tracker id or info hash) when it has one.

    In this order, the first that applies: with a ``target`` (the gap commands' wanted book),
    not the same work as the target -> ``different``; abook's own torrent (not failed) ->
    ``queued``; refused by :func:`screen` -> ``unwanted``; a torrent that failed before ->
    ``unwanted``; the same work as an owned book -> ``owned``; the same book already queued ->
    ``queued``; a near miss of an owned book -> ``near_miss``; else ``new``.

    A release that names no author (a name that could not be split) is judged on its title
    alone: a title that matches an owned (or the wanted) book is a near miss, never owned (or
    taken) on an author match it cannot make. A release built from less than the tracker's own
    record (``release.basis``) says so in the reasons that rest on it.
    """
    note = f" ({release.basis})" if release.basis else ""
    if target is not None:
        from .matching import compare

        wanted = compare(target, release.book())
        if wanted.verdict == "near_miss":
            return Verdict(Judgement.DIFFERENT, f"near miss ({wanted.reason}){note}", match=wanted)
        if wanted.verdict != "same":
            return Verdict(Judgement.DIFFERENT, f"a different book ({wanted.reason}){note}", match=wanted)
        if not release.authors and target.authors:
            return Verdict(Judgement.DIFFERENT, f"near miss (the title matches, but the release names no "
                                                f"author to compare with {', '.join(target.authors)}){note}",
                           match=wanted)
    if mine is not None and mine["status"] != DownloadStatus.FAILED:
        return Verdict(Judgement.QUEUED, f"already queued by abook ({mine['status']})", mine=mine)
    why = screen(release, policy)
    if why:
        return Verdict(Judgement.UNWANTED, why)
    if mine is not None:
        return Verdict(Judgement.UNWANTED, "this torrent failed before", mine=mine)
    book = release.book()
    match = owned.find(book)
    if match is not None and match.verdict == "same":
        if not release.authors:
            return Verdict(Judgement.NEAR_MISS, f"near miss of owned {_label(match)}: the release names no "
                                                f"author, so it is not counted as owned; not grabbed{note}",
                           match=match)
        return Verdict(Judgement.OWNED, f"owned: {_label(match)}{note}", match=match)
    same_queued = queued.find(book)
    if same_queued is not None and same_queued.verdict == "same":
        return Verdict(Judgement.QUEUED, "same book already queued by abook", match=same_queued)
    if match is not None:
        return Verdict(Judgement.NEAR_MISS, f"near miss of owned {_label(match)}: not grabbed{note}", match=match)
    return Verdict(Judgement.NEW, f"not owned{note}")


def _label(match: Match) -> str:
    return f"{match.owned.title!r} ({match.reason})"
