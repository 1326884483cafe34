"""A batch of Kafka messages, decoded to Arrow columns for one DuckDB transaction."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from pipeline.sink.decode import UNDECODABLE, decode_decisions, decode_sanitized


@dataclasses.dataclass(frozen=True)
class Decoded:
    """A batch's records as Arrow tables, and its undecodable messages per topic."""

    sanitized: pa.Table
    decisions: pa.Table
    rejected: dict[str, int]
    offsets: pa.Table
    """``topic``, ``part``, ``next_offset`` of every partition in the batch."""
    next_offsets: dict[tuple[str, int], int]
    messages: int

    def rejected_table(self) -> pa.Table:
        """Columns ``topic``, ``reason``, ``records`` for the ``sink_rejected`` upsert."""
        return pa.table({
            "topic": pa.array(list(self.rejected), pa.string()),
            "reason": pa.array([UNDECODABLE] * len(self.rejected), pa.string()),
            "records": pa.array(list(self.rejected.values()), pa.int64()),
        })


class RawBatch:
    """Messages accumulated from one or more polls, plus the next offset of each partition."""

    def __init__(self, purpose_of: Mapping[str, str], decisions_topic: str) -> None:
        """Args:
        purpose_of: sanitized topic name -> purpose.
        decisions_topic: name of the decisions topic.
        """
        self._purpose_of = purpose_of
        self._decisions = decisions_topic
        self._s_values: list[bytes] = []
        self._s_topics: list[str] = []
        self._s_purposes: list[str] = []
        self._d_values: list[bytes] = []
        self._next: dict[tuple[str, int], int] = {}
        self.messages = 0
        self.bytes = 0

    def add(self, topic: str, partition: int, messages: Sequence[Any]) -> None:
        """Add messages (kafka-python ``ConsumerRecord``) of one partition, in offset order."""
        if not messages:
            return
        values = [m.value if m.value is not None else b"" for m in messages]
        if topic == self._decisions:
            self._d_values.extend(values)
        else:
            n = len(values)
            self._s_values.extend(values)
            self._s_topics.extend([topic] * n)
            self._s_purposes.extend([self._purpose_of[topic]] * n)
        self._next[(topic, partition)] = int(messages[-1].offset) + 1
        self.messages += len(values)
        self.bytes += sum(len(v) for v in values)

    def add_offsets(self, topic: str, partition: int, next_offset: int) -> None:
        """Record a partition position without messages (e.g. after skipped control records)."""
        self._next[(topic, partition)] = next_offset

    def __len__(self) -> int:
        return self.messages

    @property
    def next_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> next offset to read once this batch is committed."""
        return dict(self._next)

    def decode(self) -> Decoded:
        """Decode every message (see :mod:`pipeline.sink.decode`)."""
        sanitized, rejected = decode_sanitized(self._s_values, self._s_topics, self._s_purposes)
        decisions, bad = decode_decisions(self._d_values)
        if bad:
            rejected[self._decisions] = rejected.get(self._decisions, 0) + bad
        return Decoded(sanitized, decisions, rejected, self.offsets_table(), self.next_offsets,
                       self.messages)

    def offsets_table(self) -> pa.Table:
        """Columns ``topic``, ``part``, ``next_offset`` for the offset upsert."""
        keys = sorted(self._next)
        return pa.table(
            {
                "topic": pa.array([t for t, _ in keys], pa.string()),
                "part": pa.array([p for _, p in keys], pa.int32()),
                "next_offset": pa.array([self._next[k] for k in keys], pa.int64()),
            }
        )
