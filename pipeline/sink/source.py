"""The Kafka side of the sink: which partitions this shard owns, where to resume, polling.

The consumer has no group and never commits to Kafka: positions come from the offsets stored
in DuckDB with the data (``sink_offsets``), so a restart resumes exactly after the last
committed batch, whatever killed the previous process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kafka import TopicPartition

from pipeline.sink.config import ShardSpec

log = logging.getLogger(__name__)


class KafkaSource:
    """The shard's partitions of the sink's topics, assigned by hand, seeked to stored offsets."""

    def __init__(
        self,
        consumer: Any,
        topics: list[str],
        shard: ShardSpec,
        offsets: Mapping[tuple[str, int], int],
    ) -> None:
        """Args:
        consumer: a kafka-python ``KafkaConsumer`` without group (``group_id=None``).
        topics: every topic the sink reads.
        shard: which partitions belong to this process.
        offsets: next offset per (topic, partition) as committed in DuckDB.
        """
        self._consumer = consumer
        self._topics = topics
        self._shard = shard
        self._positions: dict[tuple[str, int], int] = dict(offsets)
        self._assigned: set[TopicPartition] = set()
        self._missing: list[str] = []
        self._backlog: dict[TopicPartition, int] = {}
        """End offset of each partition when it was assigned: the backlog found at start."""

    @property
    def assigned(self) -> frozenset[TopicPartition]:
        """Partitions currently assigned."""
        return frozenset(self._assigned)

    def refresh(self) -> bool:
        """Assign owned partitions of topics that appeared since; True if the set changed."""
        wanted: set[TopicPartition] = set()
        missing = []
        for topic in self._topics:
            partitions = self._consumer.partitions_for_topic(topic) or ()
            if not partitions:
                missing.append(topic)
            wanted.update(TopicPartition(topic, p) for p in partitions if self._shard.owns(p))
        if missing and missing != self._missing:
            log.info("waiting for topics that do not exist yet: %s", ", ".join(missing))
        self._missing = missing
        if wanted == self._assigned:
            return False
        self._consumer.assign(sorted(wanted))
        # Re-assigning may reset fetch positions: seek everything to what DuckDB holds.
        for tp in sorted(wanted):
            stored = self._positions.get((tp.topic, tp.partition))
            if stored is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, stored)
        log.info("sink shard %s reads %d partitions of %d topics", self._shard, len(wanted),
                 len({tp.topic for tp in wanted}))
        new = sorted(wanted - self._assigned)
        if new:
            self._backlog.update(self._consumer.end_offsets(new))
        self._assigned = wanted
        return True

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        """Messages buffered or fetched within ``timeout_ms``, at most ``max_records``."""
        if not self._assigned:
            return {}
        result: dict[TopicPartition, list[Any]] = self._consumer.poll(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return result

    def committed(self, next_offsets: Mapping[tuple[str, int], int]) -> None:
        """Record positions that DuckDB now holds (after a batch's COMMIT)."""
        self._positions.update(next_offsets)

    def lag(self) -> int:
        """Messages between the committed positions and the partitions' end offsets."""
        return sum(self.lags().values())

    def lags(self) -> dict[tuple[str, int], int]:
        """Per assigned partition: messages between the committed position and the end."""
        if not self._assigned:
            return {}
        ends = self._consumer.end_offsets(sorted(self._assigned))
        out: dict[tuple[str, int], int] = {}
        for tp, end in ends.items():
            start = self._positions.get((tp.topic, tp.partition))
            if start is None:
                start = self._consumer.beginning_offsets([tp])[tp]
            out[(tp.topic, tp.partition)] = max(0, int(end) - int(start))
        return out

    def known_lags(self) -> dict[tuple[str, int], int]:
        """Per assigned partition, the lag as of the last fetch response (which carries the
        partition's end): no request, so it never blocks the loop, even with the broker away.
        Partitions not fetched yet, or never committed, are left out (unknown, not 0)."""
        out: dict[tuple[str, int], int] = {}
        for tp in self._assigned:
            high = self._consumer.highwater(tp)
            position = self._positions.get((tp.topic, tp.partition))
            if high is not None and position is not None:
                out[(tp.topic, tp.partition)] = max(0, int(high) - position)
        return out

    def _position(self, tp: TopicPartition) -> int:
        stored = self._positions.get((tp.topic, tp.partition))
        if stored is None:
            return int(self._consumer.beginning_offsets([tp])[tp])
        return stored

    def consumed_until(self, instant: datetime) -> bool:
        """Whether every message written before ``instant`` (naive UTC), and the whole backlog
        found when the partitions were assigned, is committed (dp: a day may be released)."""
        if not self._assigned:
            return False
        ms = int(instant.replace(tzinfo=UTC).timestamp() * 1000)
        found = self._consumer.offsets_for_times(dict.fromkeys(self._assigned, ms))
        ends = None
        for tp in self._assigned:
            target = self._backlog.get(tp, 0)
            hit = found.get(tp)
            if hit is None:  # every message is older than instant: all of them
                ends = ends or self._consumer.end_offsets(sorted(self._assigned))
                target = max(target, int(ends[tp]))
            else:
                target = max(target, int(hit.offset))
            if self._position(tp) < target:
                return False
        return True

    def close(self) -> None:
        """Close the consumer (no offsets to commit: they live in DuckDB)."""
        self._consumer.close(autocommit=False)
