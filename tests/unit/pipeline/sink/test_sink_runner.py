"""The sink loop over an in-memory source: batches, offsets, stop conditions, publication."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
from kafka import TopicPartition
from sink_feed import TOPICS, nav

from pipeline.policy.publication import DpBudget, DpTable, Publication
from pipeline.sink.config import ShardSpec, SinkConfig
from pipeline.sink.exceptions import DpShardingError
from pipeline.sink.runner import Sink
from pipeline.sink.schema import open_state, read_offsets
from pipeline.sink.target import AnalyticsTarget

TOPIC = TOPICS.sanitized["audience_measurement"]


class ListSource:
    """Hands out prepared polls, then nothing; records what was committed."""

    def __init__(self, polls: list[dict[TopicPartition, list[Any]]]) -> None:
        self.polls = polls
        self.positions: dict[tuple[str, int], int] = {}

    def refresh(self) -> bool:
        return False

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if self.polls:
            return self.polls.pop(0)
        time.sleep(min(timeout_ms, 50) / 1000)
        return {}

    def committed(self, next_offsets: dict[tuple[str, int], int]) -> None:
        self.positions.update(next_offsets)

    def lag(self) -> int:
        return 0

    def known_lags(self) -> dict[tuple[str, int], int]:
        return {}

    consumed = True
    """What ``consumed_until`` answers (dp releases wait for it)."""

    def consumed_until(self, instant: datetime) -> bool:
        return self.consumed

    def close(self) -> None:
        pass


def _poll(first: int, count: int, users: int) -> dict[TopicPartition, list[Any]]:
    messages = [SimpleNamespace(offset=first + i, value=json.dumps(
        nav(f"e{first + i}", f"P{(first + i) % users}")).encode()) for i in range(count)]
    return {TopicPartition(TOPIC, 0): messages}


def _sink(tmp_path: Path, source: ListSource, **kw: Any) -> tuple[Sink, duckdb.DuckDBPyConnection]:
    config = SinkConfig(data_dir=tmp_path, topics=TOPICS, k=2, publish_interval_s=0.1,
                        retention_days={"audience_measurement": 395})
    conn = open_state(config.db_path)
    return Sink(config, conn, source, now=lambda: datetime(2026, 11, 26, 12), **kw), conn  # type: ignore[arg-type]


def test_runs_until_idle_then_publishes(tmp_path: Path) -> None:
    source = ListSource([_poll(0, 30, 6), _poll(30, 20, 6)])
    expired: list[datetime] = []
    sink, conn = _sink(tmp_path, source, key_expiry=expired.append)
    stats = sink.run(threading.Event(), until_idle=0.5)
    assert (stats.records, stats.new_records) == (50, 50)
    assert read_offsets(conn) == {(TOPIC, 0): 50} == source.positions
    assert expired and expired[0].tzinfo is not None
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    assert out.execute("SELECT views, visitors FROM navigation_hourly").fetchall() == [(50, 6)]


def test_stop_event_ends_the_run_with_a_publication(tmp_path: Path) -> None:
    source = ListSource([_poll(0, 10, 5)])
    sink, _ = _sink(tmp_path, source)
    stop = threading.Event()
    timer = threading.Timer(0.8, stop.set)
    timer.start()
    started = time.monotonic()
    stats = sink.run(stop)
    timer.join()
    assert time.monotonic() - started < 5
    assert stats.records == 10 and stats.publications >= 2
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    assert out.execute("SELECT views FROM navigation_daily").fetchall() == [(10,)]


def test_once_stops_when_caught_up(tmp_path: Path) -> None:
    sink, _ = _sink(tmp_path, ListSource([_poll(0, 5, 5)]))
    assert sink.run(threading.Event(), once=True).records == 5


def test_a_dp_sink_keeps_contributions_and_releases_complete_days(tmp_path: Path) -> None:
    budget = DpBudget("navigation", 50.0, 1e-6)
    pub = Publication(dp={"navigation_daily": DpTable("navigation_daily", budget, 1.0, 5, 2)})
    config = SinkConfig(data_dir=tmp_path, topics=TOPICS, k=2, publish_interval_s=0.1,
                        publication=pub)
    conn = open_state(config.db_path)
    clock = {"now": datetime(2026, 11, 26, 12)}
    source = ListSource([_poll(0, 300, 150)])
    sink = Sink(config, conn, source, now=lambda: clock["now"])  # type: ignore[arg-type]
    sink.run(threading.Event(), once=True)
    # the records' day (2026-11-26) is not over: kept per user, nothing released yet
    assert conn.execute("SELECT count(*) FROM dp_contrib_navigation_daily").fetchall() == [(150,)]
    assert conn.execute("SELECT count(*) FROM dp_ledger").fetchall() == [(0,)]
    clock["now"] = datetime(2026, 11, 27, 3)  # the day ended 3 hours ago (release after 2)
    source.consumed = False  # but records written before 02:00 are still in the topics
    sink.publish()
    assert conn.execute("SELECT count(*) FROM dp_ledger").fetchall() == [(0,)]
    source.consumed = True
    sink.publish()
    assert conn.execute("SELECT count(*) FROM dp_contrib_navigation_daily").fetchall() == [(0,)]
    assert conn.execute("SELECT tbl, CAST(day AS VARCHAR) FROM dp_ledger").fetchall() == [
        ("navigation_daily", "2026-11-26")]
    out = duckdb.connect(str(AnalyticsTarget.beside(tmp_path).path), read_only=True)
    rows = out.execute("SELECT visitors FROM navigation_daily").fetchall()
    mode = out.execute("SELECT mode FROM publication WHERE \"table\" = 'navigation_daily'"
                       ).fetchall()
    assert mode == [("dp",)] and len(rows) == 1 and abs(rows[0][0] - 150) < 30


def test_dp_mode_refuses_a_sharded_sink(tmp_path: Path) -> None:
    pub = Publication(dp={"navigation_daily": DpTable(
        "navigation_daily", DpBudget("n", 1.0, 1e-7), 1.0, 5, 2)})
    with pytest.raises(DpShardingError, match="single sink"):
        SinkConfig(data_dir=tmp_path, topics=TOPICS, shard=ShardSpec(0, 2), publication=pub)
