"""Aggregation of hand-made batches: counts, exact distinct users, duplicates, rejects, offsets."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from sink_feed import CLOCK, TOPICS, Apply, Feed, nav, rows

from pipeline.sink import ingest
from tests.support.leakscan import scan

H10 = datetime(2026, 11, 26, 10)
DAY = date(2026, 11, 26)


def test_views_and_exact_visitors(state: duckdb.DuckDBPyConnection, apply: Apply) -> None:
    feed = Feed().records("audience_measurement", nav("e1", "P1"), nav("e2", "P1"), nav("e3", "P2"))
    feed.records("audience_measurement", nav("e4", "P3", screen="home", platform="web"))
    result = apply(feed)
    assert (result.records, result.new_records, result.duplicates, result.rejected) == (4, 4, 0, 0)
    assert rows(state, "SELECT * FROM agg_navigation_hourly") == [
        (H10, "mm-app", "ios", "contracts", 3, 2, 0),
        (H10, "mm-app", "web", "home", 1, 1, 0),
    ]
    assert rows(state, "SELECT * FROM agg_navigation_daily") == [
        (DAY, "mm-app", "ios", "contracts", 3, 2, 0),
        (DAY, "mm-app", "web", "home", 1, 1, 0),
    ]


def test_visitors_stay_exact_across_batches_and_hours(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    apply(Feed().records("audience_measurement", nav("e1", "P1"), nav("e2", "P2")))
    apply(Feed().records("audience_measurement", nav("e3", "P1"), nav("e4", "P3"),
                         nav("e5", "P1", hour="2026-11-26T11:00:00Z")))
    assert rows(state, "SELECT hour, views, visitors FROM agg_navigation_hourly") == [
        (H10, 4, 3), (datetime(2026, 11, 26, 11), 1, 1)]
    # The daily window sees P1 in two hours: still one visitor.
    assert rows(state, "SELECT day, views, visitors FROM agg_navigation_daily") == [(DAY, 5, 3)]


def test_duplicates_within_and_across_batches_count_once(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    first = Feed().records("audience_measurement", nav("e1", "P1"), nav("e1", "P1"))
    first.grouped("audience_measurement", nav("e1", "P1"), nav("e2", "P2"))
    r1 = apply(first)
    r2 = apply(Feed().grouped("audience_measurement", nav("e2", "P2"), nav("e1", "P1")))
    assert (r1.new_records, r1.duplicates, r2.new_records, r2.duplicates) == (2, 2, 0, 2)
    assert rows(state, "SELECT views, visitors FROM agg_navigation_hourly") == [(2, 2)]


def test_same_event_counts_once_per_purpose(state: duckdb.DuckDBPyConnection, apply: Apply) -> None:
    ad = nav("e1", "A1", purpose="advertising", campaign="spring")
    apply(Feed().records("audience_measurement", nav("e1", "P1")).records("advertising", ad))
    assert rows(state, "SELECT views FROM agg_navigation_hourly") == [(1,)]
    assert rows(state, "SELECT * FROM agg_campaign_daily") == [(DAY, "mm-app", "spring", 1, 1)]


def test_anonymous_records_count_only_as_anonymous_views(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    apply(Feed().records("audience_measurement", nav("e1", None), nav("e2", None), nav("e3", "P1")))
    assert rows(state, "SELECT views, visitors, anonymous_views FROM agg_navigation_hourly") == [
        (1, 1, 2)]


def test_geolocation_and_campaign_tables(state: duckdb.DuckDBPyConnection, apply: Apply) -> None:
    geo = [nav(f"g{i}", f"G{i % 2}", purpose="geolocation", stream="geolocation", screen=None,
               cell="u09tv") for i in range(3)]
    no_cell = nav("g9", "G9", purpose="geolocation", stream="geolocation", cell=None)
    ads = [nav("a1", "A1", purpose="advertising", campaign="spring"),
           nav("a2", "A1", purpose="advertising", campaign=None)]
    apply(Feed().grouped("geolocation", *geo, no_cell).grouped("advertising", *ads))
    assert rows(state, "SELECT * FROM agg_geolocation_hourly") == [(H10, "u09tv", 2, 3)]
    assert rows(state, "SELECT * FROM agg_campaign_daily") == [(DAY, "mm-app", "spring", 1, 1)]


def test_decisions_build_processing_and_consent(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    event = {"kind": "event", "event_id": "e1", "stream": "navigation", "day": "2026-11-26",
             "outcomes": {"audience_measurement": "kept", "advertising": "dropped_no_consent"}}

    def consent(eid: str, purpose: str, transition: str, subject: str) -> dict[str, str]:
        return {"kind": "consent", "event_id": eid, "purpose": purpose, "day": "2026-11-26",
                "transition": transition, "subject": subject}

    invalid = {"kind": "invalid", "source": "app.navigation.v1:3:12", "stream": "navigation",
               "day": "2026-11-26", "reason": "not JSON"}
    feed = Feed().decisions(event, event, invalid, consent("c1", "advertising", "granted", "S1"),
                            consent("c2", "advertising", "withdrawn", "S1"),
                            consent("c3", "advertising", "granted", "S2"))
    apply(feed)
    apply(Feed().decisions(invalid, consent("c3", "advertising", "granted", "S2"),
                           consent("c4", "advertising", "granted", "S1")))
    assert rows(state, "SELECT * FROM agg_processing_daily") == [
        (DAY, "navigation", "advertising", "dropped_no_consent", 1),
        (DAY, "navigation", "all", "invalid", 1),
        (DAY, "navigation", "audience_measurement", "kept", 1),
    ]
    # S1 granted twice the same day counts once; S1 is one subject for the threshold.
    assert rows(state, "SELECT * FROM agg_consent_daily") == [(DAY, "advertising", 2, 0, 1, 2)]


def test_bad_messages_and_records_are_counted_not_lost(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    topic = TOPICS.sanitized["audience_measurement"]
    feed = Feed().raw(topic, b"not json").raw(topic, b"\xff\xfe").raw(topic, b"[1, 2]")
    feed.records("audience_measurement", nav(None, "P1"), nav("e2", "P1", hour="yesterday"),
                 nav("e3", "P1"))
    feed.decisions({"kind": "mystery"})
    result = apply(feed)
    assert (result.rejected, result.new_records) == (6, 1)
    assert rows(state, "SELECT topic, reason, records FROM sink_rejected") == [
        (TOPICS.decisions, "unknown decision kind", 1),
        (topic, "missing event_id", 1),
        (topic, "missing or invalid hour", 1),
        (topic, "undecodable message", 3),
    ]


def test_records_of_closed_windows_are_rejected(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    old = nav("e1", "P1", hour="2026-11-18T11:00:00Z")
    result = apply(Feed().records("audience_measurement", old, nav("e2", "P1")))
    assert result.rejected == 1
    assert rows(state, "SELECT hour FROM agg_navigation_hourly") == [(H10,)]


def test_offsets_are_committed_with_the_data(
    state: duckdb.DuckDBPyConnection, apply: Apply
) -> None:
    feed = Feed().records("audience_measurement", nav("e1", "P1"), nav("e2", "P1"), partition=2)
    feed.decisions({"kind": "invalid", "source": "x:1:1", "stream": "navigation",
                    "day": "2026-11-26"}, partition=1)
    apply(feed)
    assert rows(state, "SELECT * FROM sink_offsets") == [
        (TOPICS.decisions, 1, 1), (TOPICS.sanitized["audience_measurement"], 2, 2)]


def test_failed_batch_leaves_neither_data_nor_offsets(
    state: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> tuple[int, int, int]:
        raise RuntimeError("crash after the sanitized merge")

    monkeypatch.setattr(ingest, "_decisions", boom)
    feed = Feed().records("audience_measurement", nav("e1", "P1"))
    with pytest.raises(RuntimeError):
        ingest.apply_batch(state, feed.batch, CLOCK, TOPICS.decisions)
    for table in ("agg_navigation_hourly", "members_navigation_hourly", "seen_keys",
                  "sink_offsets"):
        assert rows(state, f"SELECT count(*) FROM {table}") == [(0,)]  # noqa: S608


def test_state_holds_no_pseudonym(
    state: duckdb.DuckDBPyConnection, apply: Apply, tmp_path: Path
) -> None:
    apply(Feed().records("audience_measurement", nav("event-0001-x", "PSEUDONYM-ONE")).decisions(
        {"kind": "consent", "event_id": "c1", "purpose": "advertising", "day": "2026-11-26",
         "transition": "granted", "subject": "SUBJECT-ONE"}))
    assert rows(state, "SELECT count(*) FROM members_navigation_hourly") == [(1,)]
    state.close()
    forbidden = ["PSEUDONYM-ONE", "SUBJECT-ONE", "event-0001-x"]
    assert scan(tmp_path / "pipeline.duckdb", forbidden) == []
