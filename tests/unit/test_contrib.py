"""contrib/: every cron line and systemd unit calls an existing command with valid options, at the
times of the schedule (design §3), and the units pass ``systemd-analyze verify`` where it exists."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from abook.cli import app

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"

# command line -> (cron minute hour dom month dow, systemd OnCalendar)
SCHEDULE = {
    "ratio-check": ("*/5 * * * *", "*:0/5"),
    "downloads": ("2-59/5 * * * *", "*:2/5"),
    "scan": ("30 1 * * *", "*-*-* 01:30:00"),
    "fix-metadata --new": ("0 3 * * *", "*-*-* 03:00:00"),
    "fix-metadata --all": ("0 4 1 * *", "*-*-01 04:00:00"),
    "top10": ("0 3 * * 0", "Sun *-*-* 03:00:00"),
    "fill-series": ("0 3 2 * *", "*-*-02 03:00:00"),
    "fill-authors": ("0 3 3 * *", "*-*-03 03:00:00"),
    "report --notify": ("0 8 * * 1", "Mon *-*-* 08:00:00"),
}


def check_command(args: list[str]) -> None:
    """Parse ``args`` with the real CLI (options validated, nothing run)."""
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    assert args and args[0] in commands, f"abook has no command {args[:1]!r}"
    commands[args[0]].make_context(args[0], list(args[1:]))  # raises on an unknown or bad option


def abook_args(line: str) -> list[str]:
    words = shlex.split(line.split(">>")[0])
    at = next(i for i, w in enumerate(words) if w == "abook" or w.endswith("/abook"))
    return words[at + 1 :]


def cron_lines() -> list[str]:
    return [
        ln for ln in (CONTRIB / "crontab.example").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#") and "=" not in ln.split()[0]
    ]


def test_every_cron_line_runs_a_real_command_at_its_time_with_a_log_and_flock():
    seen = {}
    for line in cron_lines():
        fields = line.split()
        when, rest = " ".join(fields[:5]), " ".join(fields[5:])
        args = abook_args(rest)
        check_command(args)
        assert rest.startswith("flock -n "), line
        assert ">>" in rest and "2>&1" in rest, line
        seen[" ".join(args)] = when
    assert seen == {cmd: cron for cmd, (cron, _) in SCHEDULE.items()}


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_every_unit_pair_is_hardened_and_scheduled():
    seen = {}
    services = sorted((CONTRIB / "systemd").glob("abook-*.service"))
    assert services
    for service in services:
        unit = read_unit(service)
        s = unit["Service"]
        args = abook_args(s["ExecStart"])
        check_command(args)
        for key, value in (("ProtectSystem", "strict"), ("ProtectHome", "read-only"), ("NoNewPrivileges", "yes"),
                           ("PrivateTmp", "yes"), ("Type", "oneshot")):
            assert s.get(key) == value, f"{service.name}: {key}"
        assert s.get("ReadWritePaths") and s.get("EnvironmentFile"), service.name
        assert "4" in s.get("SuccessExitStatus", "").split(), service.name
        timer = read_unit(service.with_suffix(".timer"))
        assert timer["Install"]["WantedBy"] == "timers.target"
        seen[" ".join(args)] = timer["Timer"]["OnCalendar"]
    assert seen == {cmd: cal for cmd, (_, cal) in SCHEDULE.items()}


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path: Path):
    exe = shutil.which("abook")
    if not exe:
        pytest.skip("the abook console script is not on PATH")
    for unit in (CONTRIB / "systemd").iterdir():
        # verify checks that ExecStart exists: point it at this machine's abook.
        (tmp_path / unit.name).write_text(unit.read_text().replace("/usr/local/bin/abook", exe))
    units = sorted(str(p) for p in tmp_path.iterdir())
    proc = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cal = subprocess.run(["systemd-analyze", "calendar", *(c for _, c in SCHEDULE.values())],
                         capture_output=True, text=True, timeout=30)
    assert cal.returncode == 0, cal.stdout + cal.stderr


def test_the_checker_itself_rejects_bad_lines():
    with pytest.raises(AssertionError):
        check_command(["no-such-command"])
    with pytest.raises(Exception):  # noqa: B017
        check_command(["scan", "--no-such-option"])
