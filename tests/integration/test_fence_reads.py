"""The worker's fence reads exactly the ranges asked for and keeps nothing after a read.

Its consumer prefetches ahead of the ranges (up to 4 MiB a partition): records of consent and
events, raw user ids included. Left assigned, that prefetch would stay in the consumer's
buffer until the next fence read, however long that takes.
"""

from __future__ import annotations

import asyncio

from kafka import KafkaProducer

from pipeline.settings import Settings
from processors.metrics import WorkerMetrics
from processors.worker.fence import KafkaFence
from tests.integration.conftest import NewTopic

RECORDS = 200


def _fill(producer: KafkaProducer, topic: str, partitions: int) -> None:
    for p in range(partitions):
        for i in range(RECORDS):
            producer.send(topic, value=f"{p}:{i}".encode(), key=b"k", partition=p)
    producer.flush(timeout=30)


def test_a_read_returns_its_ranges_and_leaves_nothing_buffered(
    settings: Settings, new_topic: NewTopic, producer: KafkaProducer
) -> None:
    topic = new_topic(partitions=2)
    _fill(producer, topic, 2)

    async def scenario() -> tuple[list[tuple[int, int, bytes]], int, int]:
        fence = KafkaFence(settings.bootstrap_servers, "fence-test", WorkerMetrics())
        try:
            found = await fence.read_ranges(topic, {0: (10, 20), 1: (0, 5)})
            await asyncio.sleep(0.5)  # room for a prefetch to land, were one still running
            held = len(fence._consumer._fetcher._records)  # aiokafka's prefetch buffer
            return (
                [(m.partition, m.offset, m.value) for m in found],
                len(fence._consumer.assignment()),
                held,
            )
        finally:
            await fence.stop()

    found, assigned, held = asyncio.run(scenario())
    expected = [(0, i, f"0:{i}".encode()) for i in range(10, 20)]
    expected += [(1, i, f"1:{i}".encode()) for i in range(5)]
    assert found == expected
    assert assigned == 0
    assert held == 0
