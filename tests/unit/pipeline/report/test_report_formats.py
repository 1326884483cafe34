"""``report --format``: piped tables keep full values; json and csv hold the table's values."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.unit.pipeline.report.test_report_cli import _run

QUERY = "SELECT purpose, sum(granted) AS granted_total FROM consent_daily GROUP BY ALL ORDER BY 1"


def test_sql_formats_hold_the_same_values(analytics: Path) -> None:
    table = _run(analytics.parent, "--sql", QUERY)
    as_json = _run(analytics.parent, "--sql", QUERY, "--format", "json")
    as_csv = _run(analytics.parent, "--sql", QUERY, "--format", "csv")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert rows and all(isinstance(r["granted_total"], int | float) for r in rows)
    assert [{k: str(v) for k, v in r.items()} for r in rows] == \
        list(csv.DictReader(io.StringIO(as_csv.stdout)))
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["purpose", "granted_total"]  # the full header, not cut
    assert [line.split() for line in lines[1:1 + len(rows)]] == \
        [[r["purpose"], str(r["granted_total"])] for r in rows]
    assert f"{len(rows)} row(s)" in as_json.stderr and "row(s)" not in as_json.stdout


def test_summary_json_parses(analytics: Path) -> None:
    done = _run(analytics.parent, "--format", "json")
    summary = json.loads(done.stdout)
    assert {"overview", "top_screens", "days", "consent", "purposes", "dropped"} <= set(summary)


def test_summary_csv_asks_for_sql(analytics: Path) -> None:
    done = _run(analytics.parent, "--format", "csv")
    assert done.returncode == 1 and "--sql" in done.stderr
