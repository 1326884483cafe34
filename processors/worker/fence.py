"""Kafka positions and side reads behind the consent and erasure fences.

A separate aiokafka consumer (never subscribed, never committing) answers three questions
for the engine: where a partition ends now, where the worker group committed, and what lies
between two offsets. Reading the missing records directly, instead of waiting for the
stream to deliver them, keeps the agent from waiting on itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from kafka import KafkaAdminClient

from processors.messages import Msg, subject_verified
from processors.metrics import WorkerMetrics

_READ_TIMEOUT_MS = 1000
_MAX_EMPTY_POLLS = 30


class KafkaFence:
    """Positions and side reads for the engine, from one private consumer."""

    def __init__(self, bootstrap_servers: str, group_id: str, metrics: WorkerMetrics) -> None:
        self._bootstrap = bootstrap_servers
        self._metrics = metrics
        self._group = group_id
        self._admin: Any = None
        # No group on the reader: it assigns partitions by hand, and a group coordinator
        # would fight those assignments.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self._started = False

    async def start(self) -> None:
        """Connect to the broker (idempotent)."""
        if not self._started:
            await self._consumer.start()
            self._started = True

    async def stop(self) -> None:
        """Close the connection."""
        if self._started:
            await self._consumer.stop()
            self._started = False
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        """The next offset to be written on each partition, as the broker says now."""
        self._metrics.fence_reads.labels("end_offsets").inc()
        return await self.peek_ends(topic, partitions)

    async def peek_ends(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        """Like :meth:`end_offsets`, not counted as a fence read (lag gauge, health probe)."""
        await self.start()
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = await self._consumer.end_offsets(tps)
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    async def committed(self, topic: str, partition: int) -> int:
        """The group's committed offset, or the log start when nothing was committed."""
        await self.start()
        self._metrics.fence_reads.labels("committed").inc()
        tp = TopicPartition(topic, partition)
        offset = await asyncio.to_thread(self._committed, topic, partition)
        start = (await self._consumer.beginning_offsets([tp]))[tp]
        return max(offset, int(start))

    def _committed(self, topic: str, partition: int) -> int:
        from kafka.structs import TopicPartition as KafkaTP

        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap.split(","), client_id="privacy-pipeline-fence"
            )
        tp = KafkaTP(topic, partition)
        offsets = self._admin.list_group_offsets({self._group: [tp]}).get(self._group, {})
        meta = offsets.get(tp)
        return int(meta.offset) if meta is not None and meta.offset >= 0 else 0

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Msg]:
        """Records ``start <= offset < end`` of one partition, in order.

        Raises:
            KafkaTimeoutError: the range could not be read to its end (a transient error).
        """
        return await self.read_ranges(topic, {partition: (start, end)})

    async def read_ranges(self, topic: str, ranges: dict[int, tuple[int, int]]) -> list[Msg]:
        """Records ``start <= offset < end`` of several partitions, fetched together.

        Records of one partition are in order; partitions follow one another.

        Raises:
            KafkaTimeoutError: a range could not be read to its end (a transient error).
        """
        await self.start()
        tps = {TopicPartition(topic, p): span for p, span in ranges.items() if span[0] < span[1]}
        if not tps:
            return []
        self._metrics.fence_reads.labels("records").inc()
        self._consumer.assign(list(tps))
        try:
            out = await self._read_assigned(topic, tps)
        finally:
            # Unassigned, the consumer drops what it prefetched past the ranges (up to 4 MiB
            # a partition of consent and events, raw ids included) instead of keeping it
            # until the next read.
            self._consumer.unsubscribe()
        found = [m for tp in sorted(out) for m in out[tp]]
        self._metrics.fence_records.inc(len(found))
        return found

    async def _read_assigned(
        self, topic: str, tps: dict[TopicPartition, tuple[int, int]]
    ) -> dict[TopicPartition, list[Msg]]:
        for tp, (start, _) in tps.items():
            self._consumer.seek(tp, start)
        out: dict[TopicPartition, list[Msg]] = {tp: [] for tp in tps}
        pending, empty = set(tps), 0
        while pending and empty < _MAX_EMPTY_POLLS:
            batch = await self._consumer.getmany(*pending, timeout_ms=_READ_TIMEOUT_MS)
            empty = 0 if any(batch.values()) else empty + 1
            for tp, records in batch.items():
                end = tps[tp][1]
                out[tp].extend(
                    Msg(topic, tp.partition, r.offset, r.key, r.value, subject_verified(r.headers))
                    for r in records
                    if r.offset < end
                )
            for tp in list(pending):
                got = out[tp]
                if (got and got[-1].offset >= tps[tp][1] - 1) or (
                    await self._consumer.position(tp) >= tps[tp][1]
                ):
                    pending.discard(tp)
        if pending:
            # Returning part of a range would let the engine count unread records as handled.
            missing = ", ".join(f"{topic}[{tp.partition}]" for tp in sorted(pending))
            raise KafkaTimeoutError(f"could not read {missing} up to the fence")
        return out
