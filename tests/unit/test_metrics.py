"""The metrics file, read back by Prometheus' own text-format parser."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from abook.errors import ConfigError
from abook.metrics import metrics_text, write_metrics
from abook.workflows import report
from tests.unit.test_report_summary import NOW, world


def parsed(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def value(families: dict[str, list], name: str, **labels: str) -> float:
    (match,) = [s.value for s in families[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    return match


def test_every_figure_parses_as_prometheus_reads_it():
    st = world()
    st.set_hold("ratio 1.2 is below RATIO_FLOOR 1.5")
    tid = st.start_task("top10", {})
    st.finish_task(tid, "failed", {}, 'MAM said "no"\nsecond line', exit_code=3)
    text = metrics_text(report.metrics_data(st, report.ReportOptions(), now=NOW))
    fams = parsed(text)
    assert value(fams, "abook_tracker_ratio") == pytest.approx(1.93)
    assert value(fams, "abook_tracker_buffer_bytes") == int(1.93 * 200e9 / 1.5 - 200e9)
    assert value(fams, "abook_tracker_bonus_points") == 52100
    assert value(fams, "abook_tracker_unsatisfied_used") == 12 and value(fams, "abook_tracker_unsatisfied_limit") == 100
    assert value(fams, "abook_tracker_hold") == 1
    assert value(fams, "abook_tracker_vip_until_timestamp_seconds") > NOW.timestamp()
    assert value(fams, "abook_library_books") == 1234
    assert value(fams, "abook_downloads", status="pending") == 3
    assert value(fams, "abook_downloads", status="done") == 9
    assert value(fams, "abook_downloads_bytes", status="failed") == 0.5e9
    assert value(fams, "abook_missing_books", status="wanted") == 30
    # failed_attempts is never pruned: a counter (the parser names the family without _total).
    assert value(fams, "abook_failures", command="downloads") == 1
    assert [s.name for s in fams["abook_failures"]] == ["abook_failures_total"]
    assert value(fams, "abook_last_run_exit_code", command="top10") == 3
    assert value(fams, "abook_last_run_success", command="top10") == 0
    assert value(fams, "abook_last_run_success", command="ratio-check") == 1
    assert value(fams, "abook_last_run_status", command="top10", status="failed") == 1
    assert value(fams, "abook_last_run_duration_seconds", command="scan") == 60
    assert value(fams, "abook_last_run_timestamp_seconds", command="downloads") == NOW.timestamp() - 60
    assert "mouse" not in text  # no user name in a file others read


def test_an_infinite_ratio_and_label_escapes():
    data = {"tracker": {"now": {"ratio": None, "taken_at": "2026-03-02T07:00:00+00:00"}, "hold": None},
            "failure_totals": {'odd "command"\\x': 2}, "runs": []}
    fams = parsed(metrics_text(data))
    assert math.isinf(value(fams, "abook_tracker_ratio"))
    assert value(fams, "abook_failures", command='odd "command"\\x') == 2


def test_the_file_is_replaced_whole_and_readable_by_node_exporter(tmp_path: Path):
    target = tmp_path / "abook.prom"
    target.write_text("old\n")
    old_umask = os.umask(0o077)  # as under systemd's UMask=0077
    try:
        write_metrics(target, "abook_info 1\n")
    finally:
        os.umask(old_umask)
    assert target.read_text() == "abook_info 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["abook.prom"]  # no temporary file left behind
    with pytest.raises(ConfigError, match="cannot write the metrics file") as err:
        write_metrics(tmp_path / "no-such-dir" / "abook.prom", "x\n")
    assert "\n" not in str(err.value)
