"""Where the engine stands on each input partition: the last offset handled, holes, catch-up.

A record is marked handled once decided, not when read: an erasure fences on the events
decided so far. Records at or below a partition's handled position were decided already (by
this worker or, below the committed offset, by the group) and are skipped when delivered again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from processors.messages import Msg

log = logging.getLogger(__name__)


class Fence(Protocol):
    """Kafka positions and side reads the engine needs (see :mod:`processors.worker.fence`)."""

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]: ...

    async def committed(self, topic: str, partition: int) -> int: ...

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Msg]: ...

    async def read_ranges(
        self, topic: str, ranges: dict[int, tuple[int, int]]
    ) -> list[Msg]: ...


class Positions:
    """The handled offset of every input partition, read from the fence on first use."""

    def __init__(self, fence: Fence) -> None:
        self.fence = fence
        self._done: dict[tuple[str, int], int] = {}

    def reset(self) -> None:
        """Forget every position (after a rebalance: re-read from the committed offsets)."""
        self._done.clear()

    async def unhandled(self, batch: Sequence[Msg]) -> list[Msg]:
        """The batch's records not handled yet, plus any the stream skipped, in offset order.

        Records at or below a partition's handled position were decided already (by this
        worker or, below the committed offset, by the group) and are dropped. A hole between
        the handled position and the records delivered is read directly: faust can drop
        records fetched across a rebalance and still commit past them (it takes the hole for
        a compacted range), so the stream alone does not guarantee every record is seen.
        """
        runs: dict[tuple[str, int], dict[int, Msg]] = {}
        for m in batch:
            runs.setdefault((m.topic, m.partition), {})[m.offset] = m
        out: list[Msg] = []
        for (topic, partition), by_offset in runs.items():
            done = await self.done_upto(topic, partition)
            run = [by_offset[o] for o in sorted(by_offset) if o > done]
            if not run:
                continue
            last = run[-1].offset
            if last - done != len(run):
                skipped = last - done - len(run)
                log.warning("input %s[%d]: reading %d skipped records", topic, partition, skipped)
                run = await self.fence.read(topic, partition, done + 1, last + 1)
            out.extend(run)
        return out

    def handled(self, m: Msg) -> None:
        """Mark ``m`` decided (once decided, not when read: erasures fence on it)."""
        self._done[(m.topic, m.partition)] = m.offset

    def known(self, topic: str, partition: int) -> int:
        """The last offset handled, -1 when none is known yet (no fence read)."""
        return self._done.get((topic, partition), -1)

    async def done_upto(self, topic: str, partition: int) -> int:
        """The last offset handled (below the committed offset when nothing was handled)."""
        key = (topic, partition)
        if key not in self._done:
            self._done[key] = await self.fence.committed(topic, partition) - 1
        return self._done[key]

    async def next_offset(self, topic: str, partition: int) -> int:
        """The first offset of a partition this engine has not handled yet."""
        return await self.done_upto(topic, partition) + 1

    async def catch_up(self, topic: str, partitions: Iterable[int]) -> list[Msg]:
        """Records of ``topic`` not yet delivered, read directly up to the end; marked handled."""
        ends = await self.fence.end_offsets(topic, partitions)
        ranges: dict[int, tuple[int, int]] = {}
        for partition, end in sorted(ends.items()):
            done = await self.done_upto(topic, partition)
            if done < end - 1:
                ranges[partition] = (done + 1, end)
        missing = await self.fence.read_ranges(topic, ranges) if ranges else []
        for partition, (_, end) in ranges.items():
            self._done[(topic, partition)] = end - 1
        return missing
