"""The report states how each table was published, with standard errors for dp figures."""

from __future__ import annotations

import math
import re
from pathlib import Path

import duckdb
from rich.console import Console

from pipeline.report.html import render_html
from pipeline.report.queries import open_analytics, summarize
from pipeline.report.terminal import render_summary
from pipeline.sink.pubtable import SCHEMA

PUBLICATION = f"""
CREATE TABLE publication ({", ".join(f'"{f.name}" {t}' for f, t in zip(SCHEMA, [
    "VARCHAR", "VARCHAR", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "BIGINT", "BIGINT",
    "BIGINT", "DATE", "BIGINT", "BIGINT", "VARCHAR", "TIMESTAMP"], strict=True))});
INSERT INTO publication VALUES
 ('navigation_daily', 'dp', NULL, 1.0, 1e-7, 14.4, 72.0, 83, 10, 4, '2026-04-02', 6, NULL,
  'navigation_daily: cells whose noisy user count is under 83 are not published', now()),
 ('geolocation_hourly', 'threshold', 5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3, 7,
  'geolocation_hourly: 7 rows under k = 5 distinct users', now());
"""  # noqa: S608 - constant names


def _summary(analytics: Path, with_publication: bool = True):  # type: ignore[no-untyped-def]
    if with_publication:
        conn = duckdb.connect(str(analytics))
        conn.execute(PUBLICATION)
        conn.close()
    conn = open_analytics(analytics)
    try:
        return summarize(conn, analytics)
    finally:
        conn.close()


def test_terminal_report_prints_modes_withheld_rows_and_standard_errors(analytics: Path) -> None:
    summary = _summary(analytics)
    console = Console(record=True, width=250)
    render_summary(summary, console)
    text = console.export_text()
    assert "How each table was published" in text
    assert "geolocation_hourly: 7 rows under k = 5 distinct users" in text
    assert "ε = 1, δ = 1e-07, σ users = 14.4" in text
    # 2026-04-01 sums 3 noisy rows of views: standard error 72 * sqrt(3)
    day = next(d for d in summary.days if str(d.day) == "2026-04-01")
    assert day.views_se == math.sqrt(3) * 72.0 and day.visitors_se == 14.4
    assert f"250 ± {72.0 * math.sqrt(3):,.0f}" in text


def test_without_dp_figures_are_exact(analytics: Path) -> None:
    summary = _summary(analytics, with_publication=False)
    assert summary.publication == []
    assert all(d.views_se is None and d.visitors_se is None for d in summary.days)


def test_html_visitors_chart_plots_visitors_not_views(analytics: Path) -> None:
    page = render_html(_summary(analytics))
    chart = re.search(r"<svg[^>]*><title>Visitors per day.*?</svg>", page)
    assert chart is not None
    bars = re.findall(r"<title>(2026-04-0\d): ([\d,]+)</title>", chart.group(0))
    # visitors of each day's busiest screen (40 and 25), not its views (250 and 135)
    assert bars == [("2026-04-01", "40"), ("2026-04-02", "25")]
    assert "geolocation_hourly: 7 rows under k = 5 distinct users" in page
