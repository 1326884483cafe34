"""A stalled-partition watchdog for the worker.

faust can leave an assigned partition without fetches after a rebalance (faust-streaming
issue #629): the group looks healthy while one partition's lag only grows. Every check, the
watchdog compares each assigned input partition's end offset with what the engine handled;
a partition with records waiting and no progress over two checks is resumed and re-seeked to
the first record not yet handled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

Position = Callable[[str, int], Awaitable[int]]
"""``(topic, partition) -> offset``: the next offset to be written / to be handled."""


class StallWatch:
    """Finds input partitions that have records waiting and made no progress."""

    def __init__(self, checks_before_stall: int = 2) -> None:
        self._checks = checks_before_stall
        self._seen: dict[tuple[str, int], tuple[int, int]] = {}

    async def stalled(
        self, partitions: Iterable[tuple[str, int]], end: Position, handled: Position
    ) -> list[tuple[str, int, int]]:
        """``(topic, partition, next offset)`` of each partition stalled since the last checks."""
        out: list[tuple[str, int, int]] = []
        live = set()
        for topic, partition in partitions:
            key = (topic, partition)
            live.add(key)
            nxt, last = await handled(topic, partition), await end(topic, partition)
            if nxt >= last:
                self._seen.pop(key, None)
                continue
            before, count = self._seen.get(key, (nxt, 0))
            count = count + 1 if before == nxt else 1
            self._seen[key] = (nxt, count)
            if count > self._checks:
                out.append((topic, partition, nxt))
                self._seen[key] = (nxt, 0)
        for key in set(self._seen) - live:
            del self._seen[key]
        return out
