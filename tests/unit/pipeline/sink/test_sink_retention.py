"""Retention: windows close (member sets dropped, counts kept), aggregates and keys expire."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
from sink_feed import Apply, Feed, nav, rows

from pipeline.sink.ingest import Clock
from pipeline.sink.retention import close_windows, run_retention

RETENTION = {"audience_measurement": 395, "geolocation": 395, "advertising": 395,
             "fraud_prevention": 180, "personalisation": 395}


def _consent(eid: str, day: str, subject: str) -> dict[str, str]:
    return {"kind": "consent", "event_id": eid, "purpose": "advertising", "day": day,
            "transition": "granted", "subject": subject}


def test_closing_drops_member_sets_and_keeps_counts(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    apply(Feed().records("audience_measurement", nav("e1", "P1"), nav("e2", "P2"),
                         nav("e3", "P1", hour="2026-11-27T01:00:00Z"))
          .decisions(_consent("c1", "2026-11-26", "S1")))
    now = datetime(2026, 12, 5, 0, 0)  # 8 days after the 26th ended
    result = run_retention(state, now, timedelta(days=8), RETENTION)
    assert result.closed_before == datetime(2026, 11, 27, 0, 0)
    assert rows(state, "SELECT count(*) FROM members_navigation_hourly") == [(1,)]  # the 27th's
    assert rows(state, "SELECT count(*) FROM members_navigation_daily") == [(1,)]
    assert rows(state, "SELECT count(*) FROM members_consent_daily") == [(0,)]
    assert rows(state, "SELECT views, visitors FROM agg_navigation_daily ORDER BY day") == [
        (1, 1), (2, 2)]


def test_watermark_only_moves_forward(state: duckdb.DuckDBPyConnection) -> None:
    state.execute("BEGIN")
    late, _ = close_windows(state, datetime(2026, 11, 20))
    early, _ = close_windows(state, datetime(2026, 11, 10))
    state.execute("COMMIT")
    assert late == early == datetime(2026, 11, 20)


def test_records_of_a_closed_window_no_longer_count(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    apply(Feed().records("audience_measurement", nav("e1", "P1")))
    result = run_retention(state, datetime(2026, 12, 5), timedelta(days=8), RETENTION)
    late = apply(Feed().records("audience_measurement", nav("e2", "P1")),
                 clock=Clock(date(2026, 12, 5), result.closed_before))
    assert late.rejected == 1
    assert rows(state, "SELECT views, visitors FROM agg_navigation_hourly") == [(1, 1)]


def test_aggregates_older_than_retention_are_deleted(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    geo = nav("g1", "G1", purpose="geolocation", stream="geolocation", cell="u09tv")
    event = {"kind": "event", "event_id": "e1", "stream": "navigation", "day": "2026-11-26",
             "outcomes": {"fraud_prevention": "kept", "audience_measurement": "kept"}}
    apply(Feed().records("audience_measurement", nav("e1", "P1")).records("geolocation", geo)
          .decisions(event, _consent("c1", "2026-11-26", "S1")))
    retention = dict(RETENTION, geolocation=30)
    run_retention(state, datetime(2027, 1, 5), timedelta(days=8), retention, ledger_days=395)
    assert rows(state, "SELECT count(*) FROM agg_geolocation_hourly") == [(0,)]
    assert rows(state, "SELECT count(*) FROM agg_navigation_hourly") == [(1,)]
    # Six months later: fraud_prevention rows (180 days) go, the others stay.
    run_retention(state, datetime(2027, 5, 26), timedelta(days=8), retention, ledger_days=395)
    assert rows(state, "SELECT purpose FROM agg_processing_daily") == [("audience_measurement",)]
    assert rows(state, "SELECT count(*) FROM agg_consent_daily") == [(1,)]
    run_retention(state, datetime(2027, 12, 27), timedelta(days=8), retention, ledger_days=395)
    for table in ("agg_navigation_hourly", "agg_navigation_daily", "agg_processing_daily",
                  "agg_consent_daily"):
        assert rows(state, f"SELECT count(*) FROM {table}") == [(0,)], table  # noqa: S608


def test_seen_keys_are_purged_after_the_horizon(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    apply(Feed().records("audience_measurement", nav("e1", "P1")))
    run_retention(state, datetime(2026, 12, 3), timedelta(days=8), RETENTION)
    assert rows(state, "SELECT count(*) FROM seen_keys") == [(1,)]
    run_retention(state, datetime(2026, 12, 5), timedelta(days=8), RETENTION)
    assert rows(state, "SELECT count(*) FROM seen_keys") == [(0,)]
