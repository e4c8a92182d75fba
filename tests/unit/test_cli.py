"""The command line itself: options that are not a command's."""

from __future__ import annotations

from typer.testing import CliRunner

from abook import __version__
from abook.cli import app


def test_version_alone_prints_the_version_and_exits_0():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"abook {__version__}"
