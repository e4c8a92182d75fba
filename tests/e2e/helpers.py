"""Run the installed ``abook`` command the way cron would: a subprocess, no terminal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Every service URL points at loopback: a closed port unless a test sets a fake server.
CLOSED = "http://127.0.0.1:9"
BASE_ENV = {
    "ABS_URL": CLOSED, "QB_URL": CLOSED, "MAM_URL": CLOSED, "PROWLARR_URL": "",
    "GOOGLE_BOOKS_URL": CLOSED, "GOODREADS_URL": CLOSED, "AUDIBLE_URL": CLOSED, "HARDCOVER_URL": CLOSED,
    "HTTP_TIMEOUT": "5", "HTTP_RETRIES": "2", "HTTP_BACKOFF": "0.05",
    "MAM_RATE_LIMIT_MIN": "0", "MAM_RATE_LIMIT_MAX": "0",
}


def abook_executable() -> list[str]:
    exe = shutil.which("abook")
    return [exe] if exe else [sys.executable, "-m", "abook.cli"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def assert_no_secret(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret:
                assert secret not in self.output, "a secret leaked into the output"

    def assert_one_line_error(self) -> None:
        lines = [ln for ln in self.stderr.splitlines() if ln.strip() and " ERROR" not in ln and " INFO" not in ln]
        errors = [ln for ln in lines if ln.startswith("abook ")]
        assert errors, f"no 'abook <command>: ...' error line in stderr:\n{self.stderr}"
        assert "Traceback" not in self.output, self.output


def abook_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a test's abook runs in: this one without real settings, every service on loopback."""
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("ABS_", "QB_", "MAM_", "PROWLARR_", "NOTIFY_", "METRICS_"))}
    full.update(BASE_ENV)
    full.update({k: str(v) for k, v in env.items()})
    full.pop("ABOOK_DEBUG", None)
    return full


def run_abook(
    args: list[str], env: Mapping[str, str], *, cwd: Path | None = None, timeout: float = 120
) -> Result:
    proc = subprocess.run(
        [*abook_executable(), *args], env=abook_env(env), cwd=cwd, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
