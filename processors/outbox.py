"""Outputs of one batch, grouped so each (topic, partition) gets one Kafka message.

Records derived from input partition ``p`` go to partition ``p`` of their output topic, so a
user's records stay on one partition everywhere (the sink's shards rely on it). Grouping many
records into one ``{"records": [...]}`` message keeps the per-record cost small.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Iterator
from typing import Any, Protocol

import msgspec

from processors.exceptions import OutputTooLarge


class Send(Protocol):
    """``await send(topic, partition, value)`` queues one message and returns an awaitable
    that completes when Kafka acknowledged it (faust's ``Topic.send`` behaves so).

    ``value`` None with a ``key`` is a Kafka tombstone (:meth:`Outbox.add_tombstone`).
    """

    def __call__(
        self, topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> Awaitable[Awaitable[Any]]: ...


_ENCODER = msgspec.json.Encoder()

MAX_MESSAGE_BYTES = 900 * 1024
"""Largest grouped message: under the producer's and broker's 1 MiB limits, with headroom."""


def encode_groups(records: list[Any], max_records: int, max_bytes: int) -> Iterator[bytes]:
    """``{"records": [...]}`` messages of at most ``max_records`` records and ``max_bytes``.

    A group over the byte limit is halved until it fits (or holds one record).
    """
    for start in range(0, len(records), max_records):
        yield from _fit(records[start : start + max_records], max_bytes)


def _fit(records: list[Any], max_bytes: int) -> Iterator[bytes]:
    value = _ENCODER.encode({"records": records})
    if len(value) <= max_bytes or len(records) == 1:
        yield value
        return
    half = len(records) // 2
    yield from _fit(records[:half], max_bytes)
    yield from _fit(records[half:], max_bytes)


class Outbox:
    """Collects output records and sends them grouped by (topic, partition)."""

    def __init__(
        self, send: Send, max_records: int = 2000, max_bytes: int = MAX_MESSAGE_BYTES
    ) -> None:
        self._send = send
        self._max = max_records
        self._max_bytes = max_bytes
        self._groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
        self._singles: list[tuple[str, int, Any]] = []
        self._tombstones: list[tuple[str, int, bytes]] = []

    def add(self, topic: str, partition: int, record: Any) -> None:
        """Queue ``record`` for ``topic`` partition ``partition``."""
        self._groups[(topic, partition)].append(record)

    def add_single(self, topic: str, partition: int, record: Any) -> None:
        """Queue ``record`` as a message of its own, not grouped.

        For topics whose contract is one record per message: the dead-letter topic carries
        one rejected input per message (DESIGN section 3).
        """
        self._singles.append((topic, partition, record))

    def add_tombstone(self, topic: str, partition: int, key: bytes) -> None:
        """Queue a Kafka tombstone (``key``, null value): compaction then drops every
        earlier record of ``key`` on ``topic``."""
        self._tombstones.append((topic, partition, key))

    def discard(self) -> int:
        """Drop every queued record (outputs of an input being dead-lettered); how many."""
        dropped = self.pending()
        self._groups.clear()
        self._singles.clear()
        self._tombstones.clear()
        return dropped

    def pending(self) -> int:
        """Number of records queued and not yet sent."""
        queued = sum(len(v) for v in self._groups.values())
        return queued + len(self._singles) + len(self._tombstones)

    async def flush(self) -> None:
        """Send every queued record; returns once Kafka acknowledged all of them.

        Everything is queued first, then awaited: one broker round trip per batch. (Leaving
        acknowledgements in flight across batches was measured to stall faust's rebalances
        after a worker was killed, so a batch is only done once its outputs are.)
        """
        groups, self._groups = self._groups, defaultdict(list)
        singles, self._singles = self._singles, []
        tombstones, self._tombstones = self._tombstones, []
        acks: list[Any] = []
        try:
            messages = [(t, p, _ENCODER.encode(r)) for t, p, r in singles]
            for (topic, partition), records in groups.items():
                for value in encode_groups(records, self._max, self._max_bytes):
                    messages.append((topic, partition, value))
            for topic, _, value in messages:  # all checked before the first is sent
                if len(value) > self._max_bytes:
                    raise OutputTooLarge(topic, len(value), self._max_bytes)
            acks += [await self._send(t, p, v) for t, p, v in messages]
            acks += [await self._send(t, p, None, key) for t, p, key in tombstones]
            await asyncio.gather(*acks)
        except BaseException:
            # Not all acknowledged: everything stays queued for the next flush (records sent
            # twice are removed by the sink; records never sent would be lost).
            for key, records in groups.items():
                self._groups[key][:0] = records
            self._singles[:0] = singles
            self._tombstones[:0] = tombstones
            raise
        finally:
            # A failed acknowledgement holds its exception, whose traceback holds this frame
            # and so these futures: a cycle only a full collection would free.
            acks.clear()
