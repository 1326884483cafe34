"""The stalled-partition watchdog flags only partitions that wait and make no progress."""

from __future__ import annotations

import asyncio

from processors.worker.watchdog import StallWatch


def test_flags_a_partition_with_waiting_records_and_no_progress() -> None:
    ends = {("nav", 0): 100, ("nav", 1): 50, ("nav", 2): 10}
    handled = {("nav", 0): 40, ("nav", 1): 50, ("nav", 2): 5}

    async def end(t: str, p: int) -> int:
        return ends[(t, p)]

    async def done(t: str, p: int) -> int:
        return handled[(t, p)]

    watch = StallWatch(checks_before_stall=2)
    parts = list(ends)

    async def check() -> list[tuple[str, int, int]]:
        return await watch.stalled(parts, end, done)

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(check()) == []
        handled[("nav", 2)] = 8  # partition 2 progresses, partition 0 does not
        assert loop.run_until_complete(check()) == []
        handled[("nav", 2)] = 9
        assert loop.run_until_complete(check()) == [("nav", 0, 40)]
        assert loop.run_until_complete(check()) == []  # counted again from zero
    finally:
        loop.close()
