"""The publication table in threshold mode, and processing_daily's small cells."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from sink_feed import CLOCK, TOPICS, Feed, nav

from pipeline.sink.config import ShardSpec
from pipeline.sink.ingest import apply_batch
from pipeline.sink.publish import publish_from_shard
from pipeline.sink.schema import open_state
from pipeline.sink.target import AnalyticsTarget


def _event(i: int, outcome: str, day: str = "2026-11-26") -> dict[str, object]:
    return {"kind": "event", "event_id": f"d{i}", "stream": "navigation", "day": day,
            "outcomes": {"audience_measurement": outcome}}


def test_processing_rows_under_k_merge_into_other_or_are_suppressed(tmp_path: Path) -> None:
    decisions = [_event(i, "kept") for i in range(20)]
    decisions += [_event(100 + i, "dropped_late") for i in range(3)]
    decisions += [_event(200 + i, "dropped_no_consent") for i in range(2)]
    # another day: a single small outcome, merged alone into `other`, still under k
    decisions += [_event(300, "dropped_late", day="2026-11-25")]
    conn = open_state(tmp_path / "pipeline.duckdb")
    apply_batch(conn, Feed().decisions(*decisions).batch, CLOCK, TOPICS.decisions)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    rows = out.execute("SELECT CAST(day AS VARCHAR), outcome, events FROM processing_daily "
                       "ORDER BY ALL").fetchall()
    assert rows == [("2026-11-26", "kept", 20), ("2026-11-26", "other", 5)]
    (reason,) = out.execute("SELECT withheld_reason FROM publication "
                            "WHERE \"table\" = 'processing_daily'").fetchone() or ("",)
    assert reason == ("processing_daily: 3 rows under k = 5 events merged into outcome 'other'; "
                      "1 'other' rows still under k suppressed")


def test_threshold_rows_withheld_are_counted_and_no_contribution_is_kept(tmp_path: Path) -> None:
    feed = Feed().records("audience_measurement", *[nav(f"e{i}", f"P{i}") for i in range(5)])
    feed.records("audience_measurement", *[
        nav(f"r{i}", f"R{i}", screen=f"rare-{i % 7}") for i in range(7)])
    conn = open_state(tmp_path / "pipeline.duckdb")
    apply_batch(conn, feed.batch, CLOCK, TOPICS.decisions)
    publish_from_shard(conn, tmp_path, ShardSpec(), k=5)
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    row = out.execute('SELECT mode, k, rows_published, rows_withheld, withheld_reason, '
                      "snapshot_time FROM publication WHERE \"table\" = 'navigation_daily'"
                      ).fetchone()
    assert row is not None
    assert row[:5] == ("threshold", 5, 1, 7, "navigation_daily: 7 rows under k = 5 distinct users")
    assert abs((datetime.now(UTC).replace(tzinfo=None) - row[5]).total_seconds()) < 60
    assert conn.execute("SELECT count(*) FROM dp_contrib_navigation_daily").fetchall() == [(0,)]
