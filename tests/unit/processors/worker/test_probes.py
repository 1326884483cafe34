"""The worker's probes: the lag gauge (and health probe) and the stall watchdog's action."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from pipeline.topics import TopicNames
from processors.metrics import WorkerMetrics
from processors.worker.probes import refresh_lag, resume_stalled
from processors.worker.watchdog import StallWatch

NAMES = TopicNames("")


class Consumer:
    def __init__(self, *assigned: TP) -> None:
        self.assigned = set(assigned)
        self.resumed: list[TP] = []
        self.seeks: list[tuple[TP, int]] = []

    def assignment(self) -> set[TP]:
        return self.assigned

    def resume_partitions(self, tps: list[TP]) -> None:
        self.resumed.extend(tps)

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


class Fence:
    def __init__(self, end: int) -> None:
        self.end = end
        self.asked: list[tuple[str, list[int]]] = []

    async def peek_ends(self, topic: str, partitions: list[int]) -> dict[int, int]:
        self.asked.append((topic, list(partitions)))
        return {p: self.end for p in partitions}

    async def end_offsets(self, topic: str, partitions: list[int]) -> dict[int, int]:
        return await self.peek_ends(topic, partitions)


class Engine:
    def __init__(self, handled: int) -> None:
        self.handled = handled

    async def next_offset(self, topic: str, partition: int) -> int:
        return self.handled


def _lag(metrics: WorkerMetrics, topic: str, partition: int) -> float | None:
    value: float | None = metrics.registry.get_sample_value(
        "worker_consumer_lag", {"topic": topic, "partition": str(partition)})
    return value


def test_lag_is_set_for_assigned_input_partitions_only() -> None:
    metrics = WorkerMetrics()
    consumer = Consumer(TP(NAMES.navigation, 2), TP("some.output", 0))
    fence: Any = Fence(end=10)
    asyncio.run(refresh_lag(consumer, NAMES, fence, Engine(handled=4), metrics))  # type: ignore[arg-type]
    assert _lag(metrics, NAMES.navigation, 2) == 6
    assert _lag(metrics, "some.output", 0) is None
    assert fence.asked == [(NAMES.navigation, [2])]  # one request per topic with partitions


def test_a_worker_with_no_partition_still_probes_the_broker() -> None:
    metrics = WorkerMetrics()
    fence: Any = Fence(end=3)
    asyncio.run(refresh_lag(Consumer(), NAMES, fence, Engine(handled=0), metrics))  # type: ignore[arg-type]
    assert [t for t, _ in fence.asked] == [NAMES.navigation, NAMES.geolocation, NAMES.consent]
    assert _lag(metrics, NAMES.navigation, 0) is None  # no gauge for what is not assigned


def test_a_stalled_partition_is_resumed_at_the_first_record_not_handled() -> None:
    tp = TP(NAMES.consent, 1)
    consumer = Consumer(tp)
    watch = StallWatch(checks_before_stall=1)

    async def checks() -> None:
        for _ in range(2):  # no progress over two checks
            await resume_stalled(consumer, NAMES, Fence(end=9), Engine(handled=5), watch)  # type: ignore[arg-type]

    asyncio.run(checks())
    assert consumer.resumed == [tp]
    assert consumer.seeks == [(tp, 5)]
