"""No batch across a rebalance: the revocation waits for the batch in flight, and a batch
taken during a rebalance waits until the tables are recovered (processors.worker.settle)."""

from __future__ import annotations

import asyncio
from typing import Any

from processors.worker import Worker
from processors.worker.settle import Settle


class _Resets:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def reset(self) -> None:
        self.log.append("reset")


def test_a_revocation_waits_for_the_batch_in_flight(worker: Worker, monkeypatch: Any) -> None:
    log: list[str] = []
    rebalancing = [False]
    monkeypatch.setattr(worker, "_engine", _Resets(log))

    async def scenario() -> None:
        monkeypatch.setattr(worker, "_settle", Settle(lambda: rebalancing[0], poll_s=0.01))
        release = asyncio.Event()

        async def batch() -> None:
            async with worker._settle.deciding():
                log.append("batch")
                await release.wait()  # a fence read, a flush: the rebalance starts meanwhile
                log.append("batch done")

        deciding = asyncio.create_task(batch())
        await asyncio.sleep(0)
        rebalancing[0] = True
        revoking = asyncio.create_task(worker._on_revoked(None, set()))
        await asyncio.sleep(0.05)
        assert log == ["batch"]  # the engine is not reset under the batch
        release.set()
        await asyncio.wait_for(asyncio.gather(deciding, revoking), 2)
        assert log == ["batch", "batch done", "reset"]

    asyncio.run(scenario())


def test_a_batch_taken_during_a_rebalance_waits_for_its_end() -> None:
    log: list[str] = []
    rebalancing = [True]

    async def scenario() -> None:
        settle = Settle(lambda: rebalancing[0], poll_s=0.01)

        async def batch() -> None:
            async with settle.deciding():
                log.append("batch")

        deciding = asyncio.create_task(batch())
        await asyncio.sleep(0.1)
        assert log == []  # tables still recovering: nothing decided, nothing written
        rebalancing[0] = False
        await asyncio.wait_for(deciding, 2)
        assert log == ["batch"]

    asyncio.run(scenario())


def test_a_revocation_waits_for_a_tick_in_flight_and_a_batch_does_not() -> None:
    """A tick and a batch run side by side (a tick under the batches' lock held the first
    batch back by seconds); the revocation waits for both."""
    log: list[str] = []

    async def scenario() -> None:
        settle = Settle(lambda: False, poll_s=0.01)
        tick_done = asyncio.Event()

        async def tick() -> None:
            async with settle.ticking():
                log.append("tick")
                await tick_done.wait()
                log.append("tick done")

        async def batch() -> None:
            async with settle.deciding():
                log.append("batch")

        async def revoke() -> None:
            async with settle.exclusive():
                log.append("reset")

        ticking = asyncio.create_task(tick())
        await asyncio.sleep(0)
        await asyncio.wait_for(batch(), 1)  # not held back by the tick
        revoking = asyncio.create_task(revoke())
        await asyncio.sleep(0.05)
        assert log == ["tick", "batch"]  # the reset waits for the tick
        tick_done.set()
        await asyncio.wait_for(asyncio.gather(ticking, revoking), 2)
        assert log == ["tick", "batch", "tick done", "reset"]

    asyncio.run(scenario())
