"""Batch builders for the sink's unit tests (no Kafka): records, messages, feeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import duckdb

from pipeline.sink.batch import RawBatch
from pipeline.sink.config import SinkTopics
from pipeline.sink.ingest import BatchResult, Clock

TOPICS = SinkTopics.for_purposes(["audience_measurement", "geolocation", "advertising"])
PURPOSE_OF = {t: p for p, t in TOPICS.sanitized.items()}
NOW = datetime(2026, 11, 26, 12, 0)
CLOCK = Clock(today=date(2026, 11, 26), closed_before=datetime(2026, 11, 18, 12, 0))

Apply = Callable[..., BatchResult]


def nav(event_id: str, pseudonym: str | None, **fields: Any) -> dict[str, Any]:
    """An audience_measurement record as the processors emit it."""
    record: dict[str, Any] = {
        "event_id": event_id, "purpose": "audience_measurement", "stream": "navigation",
        "hour": "2026-11-26T10:00:00Z", "epoch": "2026-11", "pseudonym": pseudonym,
        "anonymous": pseudonym is None, "app": "mm-app", "platform": "ios",
        "screen": "contracts", "type": "screen_view", "campaign": None, "cell": None,
        "enc": {},
    }
    record.update(fields)
    return record


class Feed:
    """Builds a batch message by message, with increasing offsets per partition."""

    def __init__(self) -> None:
        self.batch = RawBatch(PURPOSE_OF, TOPICS.decisions)
        self.offsets: dict[tuple[str, int], int] = {}

    def raw(self, topic: str, value: bytes, partition: int = 0) -> Feed:
        offset = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = offset + 1
        self.batch.add(topic, partition, [SimpleNamespace(offset=offset, value=value)])
        return self

    def records(self, purpose: str, *records: dict[str, Any], partition: int = 0) -> Feed:
        """One message per record."""
        for r in records:
            self.raw(TOPICS.sanitized[purpose], json.dumps(r).encode(), partition)
        return self

    def grouped(self, purpose: str, *records: dict[str, Any], partition: int = 0) -> Feed:
        """One ``{"records": [...]}`` message."""
        value = json.dumps({"records": list(records)}).encode()
        return self.raw(TOPICS.sanitized[purpose], value, partition)

    def decisions(self, *records: dict[str, Any], partition: int = 0) -> Feed:
        return self.raw(TOPICS.decisions, json.dumps({"records": list(records)}).encode(),
                        partition)


def rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    """All rows of a query, sorted."""
    return sorted(conn.execute(sql).fetchall())
