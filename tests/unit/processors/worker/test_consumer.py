"""The worker's fetch loop (``processors.worker.consumer.LeanConsumer``) on a stand-in."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from processors.worker.consumer import LeanConsumer

TP = ("app.navigation.v1", 0)


class StandIn:
    """The attributes of a faust consumer the fetch loop's methods use."""

    def __init__(self, queue_size: int = 100, acks: bool = True) -> None:
        self._read_offset: dict[Any, int | None] = defaultdict(lambda: None)
        self.handed: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self.suspend_flow = asyncio.Event()
        self.should_stop = False
        self.queue: asyncio.Queue[int] = asyncio.Queue(maxsize=queue_size)
        conductor = SimpleNamespace(_tp_index={TP: [SimpleNamespace(queue=self.queue)]})
        self.app = SimpleNamespace(topics=conductor)
        conductor.acks_enabled_for = lambda topic: acks

    async def callback(self, message: Any) -> None:
        self.handed.append(message.offset)

    async def _add_gap(self, tp: Any, start: int, end: int) -> None:
        self.gaps.append((start, end))

    async def _room(self, tp: Any) -> None:
        await LeanConsumer._room(self, tp)  # type: ignore[arg-type]

    async def _hand_over(self, tp: Any, message: Any) -> None:
        await LeanConsumer._hand_over(self, tp, message)  # type: ignore[arg-type]

    async def _hand_over_all(self, records: Any) -> None:
        await LeanConsumer._hand_over_all(self, records)  # type: ignore[arg-type]


def _records(*offsets: int) -> Any:
    async def gen() -> Any:
        for offset in offsets:
            yield TP, SimpleNamespace(offset=offset, topic=TP[0])

    return gen()


def test_records_are_handed_over_in_order_and_marked_read() -> None:
    consumer = StandIn()
    asyncio.run(LeanConsumer._hand_over_all(consumer, _records(0, 1, 2)))  # type: ignore[arg-type]
    assert consumer.handed == [0, 1, 2]
    assert consumer._read_offset[TP] == 2


def test_records_below_the_read_offset_are_not_handed_over_again() -> None:
    consumer = StandIn()
    consumer._read_offset[TP] = 5  # a seek, or records handed over before
    asyncio.run(LeanConsumer._hand_over_all(consumer, _records(3, 4, 5, 6)))  # type: ignore[arg-type]
    assert consumer.handed == [5, 6]  # the seek's own offset is read again, as faust does


def test_a_jump_in_offsets_is_recorded_as_a_gap_for_acked_topics_only() -> None:
    acked, other = StandIn(acks=True), StandIn(acks=False)
    for consumer in (acked, other):
        consumer._read_offset[TP] = 3
        asyncio.run(LeanConsumer._hand_over_all(consumer, _records(7)))  # type: ignore[arg-type]
    assert acked.gaps == [(4, 7)]
    assert other.gaps == []


def test_nothing_is_handed_over_or_marked_read_once_the_flow_is_suspended() -> None:
    consumer = StandIn()

    async def scenario() -> None:
        async def suspend_after_first(message: Any) -> None:
            consumer.handed.append(message.offset)
            consumer.suspend_flow.set()  # a rebalance starts

        consumer.callback = suspend_after_first  # type: ignore[method-assign]
        await LeanConsumer._hand_over_all(consumer, _records(0, 1, 2))  # type: ignore[arg-type]

    asyncio.run(scenario())
    assert consumer.handed == [0]
    assert consumer._read_offset[TP] == 0  # 1 and 2 are fetched again after the seek


def test_a_full_buffer_is_waited_for_until_half_empty() -> None:
    consumer = StandIn(queue_size=4)

    async def scenario() -> list[int]:
        for i in range(4):
            consumer.queue.put_nowait(i)
        sizes: list[int] = []

        async def drain() -> None:
            while not consumer.queue.empty():
                await asyncio.sleep(0.005)
                consumer.queue.get_nowait()

        async def hand_over() -> None:
            await LeanConsumer._room(consumer, TP)  # type: ignore[arg-type]
            sizes.append(consumer.queue.qsize())

        await asyncio.gather(drain(), hand_over())
        return sizes

    [size_when_handed] = asyncio.run(scenario())
    assert size_when_handed <= 2


def test_a_full_buffer_is_not_waited_for_once_the_flow_is_suspended() -> None:
    consumer = StandIn(queue_size=2)

    async def scenario() -> None:
        consumer.queue.put_nowait(0)
        consumer.queue.put_nowait(1)
        consumer.suspend_flow.set()
        await asyncio.wait_for(LeanConsumer._room(consumer, TP), timeout=1.0)  # type: ignore[arg-type]

    asyncio.run(scenario())


def test_a_hand_over_blocked_when_a_rebalance_starts_is_cancelled_and_not_marked_read() -> None:
    consumer = StandIn()
    consumer._commit_every = None  # type: ignore[attr-defined]
    consumer.getmany = lambda timeout: _records(0, 1)  # type: ignore[attr-defined]
    cancelled: list[int] = []

    async def wait_first(*coros: Any) -> None:  # mode's Service.wait_first, minus stop/crash
        futures = [asyncio.ensure_future(c if asyncio.iscoroutine(c) else c.wait()) for c in coros]
        _, pending = await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
        for future in pending:
            future.cancel()

    consumer.wait_first = wait_first  # type: ignore[attr-defined]

    async def blocked(message: Any) -> None:  # faust's flow control holds the record
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(message.offset)
            raise

    consumer.callback = blocked  # type: ignore[method-assign]

    async def scenario() -> None:
        fetch = asyncio.ensure_future(LeanConsumer._drain_one_fetch(consumer))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        consumer.suspend_flow.set()
        await asyncio.wait_for(fetch, timeout=1.0)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert cancelled == [0]
    assert consumer._read_offset[TP] is None  # offset 0 is fetched again after the seek
