"""Fixtures of the sink's unit tests: a fresh shard database and a batch applier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from sink_feed import CLOCK, TOPICS, Apply, Feed

from pipeline.sink.ingest import BatchResult, Clock, apply_batch
from pipeline.sink.schema import open_state


@pytest.fixture
def state(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh shard database."""
    conn = open_state(tmp_path / "pipeline.duckdb")
    yield conn
    conn.close()


@pytest.fixture
def apply(state: duckdb.DuckDBPyConnection) -> Apply:
    """``apply(feed, clock=CLOCK)``: commit a feed's batch into ``state``."""

    def run(feed: Feed, clock: Clock = CLOCK) -> BatchResult:
        return apply_batch(state, feed.batch, clock, TOPICS.decisions)

    return run
