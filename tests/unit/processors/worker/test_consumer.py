"""The worker's fetch loop (``processors.worker.consumer.LeanConsumer``) on the real consumer.

Each test takes the consumer faust builds for a factory-made worker (installed faust, not
started, no broker): its read offsets, gap tracking, conductor, flow control and
``wait_first`` are faust's and mode's own. Only the ends are replaced: what a fetch returns
(``getmany``) and where a record is handed (``callback``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from processors.worker import Worker
from processors.worker.consumer import LeanConsumer


class Rig:
    """A worker's real consumer with the input channel assigned one partition."""

    def __init__(self, worker: Worker, queue_size: int = 100) -> None:
        self.tp = TP(worker.names.navigation, 0)
        self.other = TP("some.unacked.topic", 0)  # not read by any agent: faust acks nothing
        self.consumer: Any = worker.app.consumer
        assert isinstance(self.consumer, LeanConsumer)  # the loop under test is the shell's
        # As an agent subscribes: a clone of its topic in the conductor, with its own buffer.
        self.channel = worker.inputs.clone(is_iterator=True, maxsize=queue_size)
        self.conductor = worker.app.topics
        self.conductor.add(self.channel)
        self.handed: list[int] = []
        self.consumer.callback = self.record

    async def assign(self) -> None:
        # What faust's subscription and the group's assignment do, in that order.
        await self.conductor._update_indices()
        await self.conductor.on_partitions_assigned({self.tp})

    async def record(self, message: Any) -> None:
        self.handed.append(message.offset)

    def read_offset(self, tp: TP | None = None) -> int | None:
        value: int | None = self.consumer._read_offset[tp or self.tp]
        return value

    def records(self, *offsets: int, tp: TP | None = None) -> AsyncIterator[tuple[TP, Any]]:
        at = tp or self.tp

        async def gen() -> AsyncIterator[tuple[TP, Any]]:
            for offset in offsets:
                yield at, SimpleNamespace(offset=offset, topic=at.topic)

        return gen()

    def spy_gaps(self) -> list[tuple[int, int]]:
        """Record the gaps handed to faust's own ``_add_gap`` (which still runs)."""
        gaps: list[tuple[int, int]] = []
        real = self.consumer._add_gap

        async def add_gap(tp: TP, start: int, end: int) -> None:
            gaps.append((start, end))
            await real(tp, start, end)

        self.consumer._add_gap = add_gap
        return gaps


def run(worker: Worker, scenario: Callable[[Rig], Any], queue_size: int = 100) -> Rig:
    async def main() -> Rig:
        rig = Rig(worker, queue_size)
        await rig.assign()
        await scenario(rig)
        return rig

    return asyncio.run(main())


def test_records_are_handed_over_in_order_and_marked_read(worker: Worker) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.consumer._hand_over_all(rig.records(0, 1, 2))

    rig = run(worker, scenario)
    assert rig.handed == [0, 1, 2]
    assert rig.read_offset() == 2


def test_records_below_the_read_offset_are_not_handed_over_again(worker: Worker) -> None:
    async def scenario(rig: Rig) -> None:
        rig.consumer._read_offset[rig.tp] = 5  # a seek, or records handed over before
        await rig.consumer._hand_over_all(rig.records(3, 4, 5, 6))

    rig = run(worker, scenario)
    assert rig.handed == [5, 6]  # the seek's own offset is read again, as faust does


def test_a_jump_in_offsets_is_recorded_as_a_gap_for_acked_topics_only(worker: Worker) -> None:
    seen: dict[str, list[tuple[int, int]]] = {}

    async def scenario(rig: Rig) -> None:
        gaps = rig.spy_gaps()
        for tp in (rig.tp, rig.other):
            rig.consumer._read_offset[tp] = 3
            await rig.consumer._hand_over_all(rig.records(7, tp=tp))
        seen["gaps"] = gaps

    rig = run(worker, scenario)
    assert seen["gaps"] == [(4, 7)]  # the input topic only: faust acks its records
    assert rig.conductor.acks_enabled_for(rig.tp.topic)
    assert not rig.conductor.acks_enabled_for(rig.other.topic)
    assert rig.handed == [7, 7]


def test_nothing_is_handed_over_or_marked_read_once_the_flow_is_suspended(
    worker: Worker,
) -> None:
    async def scenario(rig: Rig) -> None:
        async def suspend_after_first(message: Any) -> None:
            rig.handed.append(message.offset)
            rig.consumer.suspend_flow.set()  # a rebalance starts

        rig.consumer.callback = suspend_after_first
        await rig.consumer._hand_over_all(rig.records(0, 1, 2))

    rig = run(worker, scenario)
    assert rig.handed == [0]
    assert rig.read_offset() == 0  # 1 and 2 are fetched again after the seek


def test_a_full_buffer_is_waited_for_until_half_empty(worker: Worker) -> None:
    sizes: list[int] = []

    async def scenario(rig: Rig) -> None:
        queue = rig.channel.queue
        for i in range(4):
            queue.put_nowait(i)
        assert queue.full()

        async def drain() -> None:
            while not queue.empty():
                await asyncio.sleep(0.005)
                queue.get_nowait()

        async def hand_over() -> None:
            await rig.consumer._room(rig.tp)
            sizes.append(queue.qsize())

        await asyncio.gather(drain(), hand_over())

    run(worker, scenario, queue_size=4)
    [size_when_handed] = sizes
    assert size_when_handed <= 2


def test_a_full_buffer_is_not_waited_for_once_the_flow_is_suspended(worker: Worker) -> None:
    async def scenario(rig: Rig) -> None:
        rig.channel.queue.put_nowait(0)
        rig.channel.queue.put_nowait(1)
        rig.consumer.suspend_flow.set()
        await asyncio.wait_for(rig.consumer._room(rig.tp), timeout=1.0)

    run(worker, scenario, queue_size=2)


def test_a_hand_over_blocked_when_a_rebalance_starts_is_cancelled_and_not_marked_read(
    worker: Worker,
) -> None:
    cancelled: list[int] = []

    async def scenario(rig: Rig) -> None:
        rig.consumer.getmany = lambda timeout: rig.records(0, 1)

        async def blocked(message: Any) -> None:  # faust's flow control holds the record
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(message.offset)
                raise

        rig.consumer.callback = blocked
        # mode's own wait_first races the hand-over against the flow being suspended.
        fetch = asyncio.ensure_future(rig.consumer._drain_one_fetch())
        await asyncio.sleep(0.01)
        rig.consumer.suspend_flow.set()
        await asyncio.wait_for(fetch, timeout=1.0)
        await asyncio.sleep(0)

    rig = run(worker, scenario)
    assert cancelled == [0]
    assert rig.read_offset() is None  # offset 0 is fetched again after the seek


def test_the_commit_cadence_is_faust_s(worker: Worker) -> None:
    """Every ``broker_commit_every`` acked records, a fetch commits first (outside the race)."""
    commits: list[int] = []

    async def scenario(rig: Rig) -> None:
        async def commit(*args: Any, **kwargs: Any) -> bool:
            commits.append(rig.consumer._n_acked)
            return True

        rig.consumer.commit = commit
        fetches = iter([rig.records(0), rig.records(1)])
        rig.consumer.getmany = lambda timeout: next(fetches)
        rig.consumer._n_acked = worker.app.conf.broker_commit_every
        await rig.consumer._drain_one_fetch()
        await rig.consumer._drain_one_fetch()

    rig = run(worker, scenario)
    assert commits == [0]  # once, with the count reset before the commit
    assert rig.handed == [0, 1]
