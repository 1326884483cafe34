"""One batch or tick at a time, and never across a rebalance.

faust revokes partitions without waiting for the agent (``stream_wait_empty`` off) and resets
nothing of ours: the revocation handler resets the engine (positions, caches, erasure indexes)
and faust then recovers the tables. A batch decided across that went on with those indexes
emptied under it (an erased user's events decided as if the erasure were unknown) and wrote
to changelogs the partitions' new owner may already have recovered. So the revocation waits
for the batch or tick in flight (:meth:`Settle.exclusive`), a batch taken before a
rebalance waits until the tables are recovered (:meth:`Settle.deciding`), then keeps the
records of the partitions still assigned only; a timer tick in flight
(:meth:`Settle.ticking`) is waited for by the revocation too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

POLL_S = 0.05


class Settle:
    """A lock over the engine that a batch takes only while no rebalance is under way."""

    def __init__(self, rebalancing: Callable[[], bool], poll_s: float = POLL_S) -> None:
        """``rebalancing``: whether faust is rebalancing (true until the tables recovered)."""
        self._rebalancing = rebalancing
        self._poll_s = poll_s
        self._lock = asyncio.Lock()
        self._ticks = 0
        self._no_tick = asyncio.Event()
        self._no_tick.set()

    @asynccontextmanager
    async def deciding(self) -> AsyncIterator[None]:
        """Hold the engine for one batch, once no rebalance is under way."""
        while True:
            while self._rebalancing():
                await asyncio.sleep(self._poll_s)
            await self._lock.acquire()
            if not self._rebalancing():
                break
            self._lock.release()  # a rebalance began meanwhile: its revocation goes first
        try:
            yield
        finally:
            self._lock.release()

    @asynccontextmanager
    async def ticking(self) -> AsyncIterator[None]:
        """Mark a timer tick in flight: a revocation waits for it, a batch does not.

        A tick under the batches' lock held the first batch back by 4 to 6 s at start-up
        (measured with ``bench --workers 1``); ticks and batches ran side by side before.
        """
        self._ticks += 1
        self._no_tick.clear()
        try:
            yield
        finally:
            self._ticks -= 1
            if not self._ticks:
                self._no_tick.set()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the engine once the batch and ticks in flight are over (a revocation)."""
        async with self._lock:
            await self._no_tick.wait()
            yield
