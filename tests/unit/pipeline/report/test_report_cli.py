"""``privacy-pipeline report`` as a user runs it: exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.pipeline.report.conftest import HOSTILE


def _run(analytics_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PRIVACY_PIPELINE_ANALYTICS_DIR=str(analytics_dir), COLUMNS="200",
               PRIVACY_PIPELINE_DATA_DIR=str(analytics_dir.with_name(analytics_dir.name + "-data")))
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "report", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_report_prints_every_section(analytics: Path) -> None:
    result = _run(analytics.parent)
    assert result.returncode == 0, result.stderr
    for title in ("Overview", "Top screens", "Visitors per day", "Consent per purpose",
                  "Decisions per purpose", "Dropped and why"):
        assert title in result.stdout
    assert "dropped_no_consent" in result.stdout and "60.0 %" in result.stdout
    assert HOSTILE in result.stdout  # printed as text, not interpreted as markup


def test_report_html_writes_the_page(analytics: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    result = _run(analytics.parent, "--html", str(out))
    assert result.returncode == 0, result.stderr
    assert "<svg" in out.read_text(encoding="utf-8")


def test_sql_prints_rows(analytics: Path) -> None:
    result = _run(analytics.parent, "--sql",
                  "SELECT purpose, sum(granted) AS g FROM consent_daily GROUP BY ALL ORDER BY 1")
    assert result.returncode == 0, result.stderr
    assert "advertising" in result.stdout and "90" in result.stdout and "2 row(s)" in result.stdout


def test_sql_write_attempt_is_a_one_line_error(analytics: Path) -> None:
    result = _run(analytics.parent, "--sql", "DELETE FROM navigation_daily")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "read-only" in result.stderr
    assert "Traceback" not in result.stderr
    check = _run(analytics.parent, "--sql", "SELECT count(*) AS n FROM navigation_daily")
    assert "6" in check.stdout


def test_missing_database_is_a_one_line_error(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "analytics.duckdb does not exist" in result.stderr and "demo" in result.stderr
