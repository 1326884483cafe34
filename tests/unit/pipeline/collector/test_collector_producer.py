"""EventProducer: waits for every acknowledgement, fails fast and bounded, sends nothing late.

The kafka-python producer is replaced by a small fake whose record futures the test resolves;
the real producer is exercised against the broker in tests/integration/test_collector.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from kafka.future import Future

from pipeline.collector.exceptions import KafkaUnavailable
from pipeline.collector.intake import Record
from pipeline.collector.producer import EventProducer
from pipeline.partitioner import key_hash


class FakeKafka:
    """Records sends; ``mode`` decides how each record future ends."""

    def __init__(self, mode: str = "ack", block_s: float = 0.0) -> None:
        self.mode = mode
        self.block_s = block_s
        self.sent: list[tuple[str, bytes, int]] = []
        self.closed = False

    def partitions_for(self, topic: str) -> set[int]:
        return set(range(6))

    def send(
        self, topic: str, value: bytes, key: bytes, partition: int, headers: Any = None
    ) -> Future:
        time.sleep(self.block_s)
        self.sent.append((topic, key, partition))
        future = Future()
        if self.mode == "ack":
            # Acknowledge later, from another thread, like kafka-python's I/O thread.
            threading.Timer(0.01, future.success, args=(None,)).start()
        elif self.mode == "fail":
            threading.Timer(0.01, future.failure, args=(NotLeaderForPartitionError(),)).start()
        return future  # "hang": never acknowledged

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def records(n: int) -> list[Record]:
    return [Record("t", f"user-{i}".encode(), b"{}", "navigation/1") for i in range(n)]


def started(fake: FakeKafka, timeout_s: float = 2.0) -> EventProducer:
    producer = EventProducer(lambda: fake, timeout_s)
    producer.start()
    deadline = time.monotonic() + 5
    while not producer.ready:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return producer


def test_returns_once_every_record_is_acknowledged() -> None:
    fake = FakeKafka("ack")
    producer = started(fake)
    elapsed = asyncio.run(producer.produce(records(50)))
    assert elapsed >= 0.01
    assert [(k, p) for _, k, p in fake.sent] == [
        (f"user-{i}".encode(), key_hash(f"user-{i}".encode()) % 6) for i in range(50)
    ]
    producer.close()
    assert fake.closed


def test_a_failed_record_fails_the_batch() -> None:
    producer = started(FakeKafka("fail"))
    with pytest.raises(KafkaUnavailable, match="NotLeaderForPartitionError"):
        asyncio.run(producer.produce(records(3)))
    producer.close()


def test_no_acknowledgement_is_a_bounded_failure() -> None:
    producer = started(FakeKafka("hang"), timeout_s=0.3)
    begin = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=r"within 0\.3 s"):
        asyncio.run(producer.produce(records(3)))
    assert time.monotonic() - begin < 2
    producer.close()


def test_not_connected_is_unavailable_at_once() -> None:
    def unreachable() -> Any:
        raise KafkaTimeoutError("no broker")

    producer = EventProducer(unreachable, 5.0)
    producer.start()
    begin = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="not connected"):
        asyncio.run(producer.produce(records(1)))
    assert time.monotonic() - begin < 0.5
    producer.close(timeout_s=2)


def test_a_batch_given_up_on_is_not_sent_later() -> None:
    # The one send thread is busy with a slow batch (0.1 s a record, 0.5 s allowed); the next
    # batch times out while queued. After their 503s, nothing more of either may be sent.
    fake = FakeKafka("ack", block_s=0.1)
    producer = started(fake, timeout_s=0.5)

    async def both() -> tuple[BaseException | float, BaseException | float]:
        return await asyncio.gather(
            producer.produce(records(8)), producer.produce(records(3)), return_exceptions=True
        )

    first, second = asyncio.run(both())
    assert isinstance(first, KafkaUnavailable) and isinstance(second, KafkaUnavailable)
    time.sleep(1.0)
    # The slow batch stopped at its deadline; the queued batch of 3 never reached Kafka.
    assert 3 <= len(fake.sent) <= 6
    producer.close()
