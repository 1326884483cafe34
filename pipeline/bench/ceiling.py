"""The raw ceiling: how fast this broker and client can hand the input to Python, decoded.

A plain kafka-python consumer (no group, no commits) reads the input topics from the start to
the end offsets they had when it started and decodes every value with the pipeline's own
validator; nothing is decided, written or produced. The pipeline's throughput divided by
this is the share of the ceiling the processing keeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition

from pipeline.bench.exceptions import StageTimeout
from pipeline.kafka import make_consumer
from pipeline.settings import Settings
from schemas.exceptions import InvalidEvent
from schemas.validator import decode_message


@dataclass(frozen=True)
class Ceiling:
    """Events read and decoded (an envelope counts as its events), and how long it took."""

    messages: int
    invalid: int
    seconds: float

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def _partitions(consumer: Any, topics: Sequence[str]) -> list[TopicPartition]:
    parts = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic) or set()
        parts += [TopicPartition(topic, p) for p in sorted(ids)]
    return parts


def measure(settings: Settings, topics: Sequence[str], timeout: float,
            progress: Callable[[int], Any] | None = None) -> Ceiling:
    """Consume and decode ``topics`` from their start to their current end.

    Raises:
        StageTimeout: the end was not reached within ``timeout`` seconds.
    """
    consumer = make_consumer(settings, group_id=None, max_poll_records=5000,
                             fetch_max_bytes=64 * 1024 * 1024,
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    try:
        parts = _partitions(consumer, topics)
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends: dict[TopicPartition, int] = consumer.end_offsets(parts)
        total = sum(ends.values()) - sum(consumer.beginning_offsets(parts).values())
        return _drain(consumer, total, timeout, progress)
    finally:
        consumer.close()


def _drain(consumer: Any, total: int, timeout: float,
           progress: Callable[[int], Any] | None) -> Ceiling:
    read = invalid = events = 0
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    while read < total:
        if time.monotonic() > deadline:
            raise StageTimeout(f"raw ceiling: read {read} of {total} messages in {timeout:.0f} s")
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                # An envelope counts as its events, each decoded: the same work as the worker's.
                items = decode_message(record.value or b"", record.key)
                invalid += sum(isinstance(item.result, InvalidEvent) for item in items)
                events += len(items)
            read += len(records)
        if progress is not None:
            progress(events)
    return Ceiling(events, invalid, time.perf_counter() - start)
