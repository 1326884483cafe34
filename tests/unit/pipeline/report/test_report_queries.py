"""The report's figures over a known analytics.duckdb, and the read-only guarantees."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.report.exceptions import MissingDatabase, QueryFailed, QueryRefused
from pipeline.report.queries import open_analytics, run_sql, summarize
from pipeline.sink.published import TABLES
from tests.unit.pipeline.report.conftest import HOSTILE, build_analytics


def test_summary_figures(analytics: Path) -> None:
    conn = open_analytics(analytics)
    s = summarize(conn, analytics, top=3)
    conn.close()
    assert [(r.screen, r.views, r.visitor_days) for r in s.top_screens] == [
        ("home", 260, 95), ("claims", 70, 12), ("contracts", 50, 20)]
    assert [(r.day, r.views, r.visitors) for r in s.days] == [
        (date(2026, 4, 1), 250, 40), (date(2026, 4, 2), 135, 25)]
    rates = {r.purpose: (r.granted, r.denied, r.withdrawn, r.rate) for r in s.consent}
    assert rates == {"advertising": (10, 90, 0, 0.1),
                     "audience_measurement": (90, 60, 10, 0.6)}
    # Invalid input (purpose "all") and consent-stream outcomes are not decisions of a purpose.
    assert [(r.purpose, r.kept, r.dropped, r.total) for r in s.purposes] == [
        ("advertising", 100, 400, 500), ("audience_measurement", 300, 200, 500),
        ("geolocation", 0, 7, 7)]
    assert [(r.reason, r.events) for r in s.dropped] == [
        ("dropped_no_consent", 550), ("dropped_withdrawn", 50), ("dropped_late", 7),
        ("invalid", 5)]
    o = s.overview
    assert (o.first_day, o.last_day, o.decisions, o.kept) == (
        date(2026, 4, 1), date(2026, 4, 2), 1007, 400)
    assert (o.views, o.cells, o.campaign_views) == (385, 2, 30)


def test_empty_tables_give_an_empty_summary(tmp_path: Path) -> None:
    path = build_analytics(tmp_path / "analytics.duckdb", rows=False)
    conn = open_analytics(path)
    s = summarize(conn, path)
    conn.close()
    assert (s.top_screens, s.days, s.consent, s.purposes, s.dropped) == ([], [], [], [], [])
    assert s.overview.first_day is None and s.overview.decisions == 0


def test_fixture_tables_are_the_ones_the_sink_publishes(analytics: Path) -> None:
    conn = duckdb.connect(str(analytics), read_only=True)
    found = {t: [(c, ty) for c, ty, *_ in conn.execute(f"DESCRIBE {t}").fetchall()]
             for t in [r[0] for r in conn.execute("SHOW TABLES").fetchall()]}
    conn.close()
    assert found == {t.name: list(t.columns) for t in TABLES}


def test_missing_database_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(MissingDatabase, match="privacy-pipeline demo"):
        open_analytics(tmp_path / "analytics.duckdb")


def test_sql_returns_rows_and_columns(analytics: Path) -> None:
    conn = open_analytics(analytics)
    result = run_sql(conn, "SELECT screen, views FROM navigation_daily ORDER BY views DESC",
                     max_rows=2)
    conn.close()
    assert result.columns == ["screen", "views"]
    assert result.rows == [("home", 120), ("home", 80)]
    assert result.truncated


@pytest.mark.parametrize("sql", [
    "DELETE FROM navigation_daily",
    "INSERT INTO consent_daily VALUES ('2026-04-01', 'x', 1, 1, 1)",
    "CREATE TEMP TABLE t AS SELECT 1",
    "DROP TABLE navigation_daily",
    "SET enable_external_access = true",
    "SELECT 1; DELETE FROM navigation_daily",
])
def test_sql_refuses_anything_but_one_query(analytics: Path, sql: str) -> None:
    conn = open_analytics(analytics)
    with pytest.raises(QueryRefused):
        run_sql(conn, sql)
    assert conn.execute("SELECT count(*) FROM navigation_daily").fetchone() == (6,)
    conn.close()


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM nowhere",
    "SELEC 1",
])
def test_sql_errors_are_one_line(analytics: Path, sql: str) -> None:
    conn = open_analytics(analytics)
    with pytest.raises(QueryFailed) as info:
        run_sql(conn, sql)
    conn.close()
    assert "\n" not in str(info.value)


def test_connection_itself_is_read_only(analytics: Path) -> None:
    # Even without the statement check, DuckDB refuses writes and other files.
    conn = open_analytics(analytics)
    with pytest.raises(duckdb.Error):
        conn.execute("DELETE FROM navigation_daily")
    with pytest.raises(duckdb.Error):
        conn.execute(f"ATTACH '{analytics.parent / 'other.duckdb'}' AS other")
    conn.close()
    assert not (analytics.parent / "other.duckdb").exists()


def test_hostile_strings_come_back_verbatim(analytics: Path) -> None:
    conn = open_analytics(analytics)
    s = summarize(conn, analytics, top=10)
    conn.close()
    assert HOSTILE in [r.screen for r in s.top_screens]
