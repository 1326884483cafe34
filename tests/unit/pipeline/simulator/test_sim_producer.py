"""Producing: order, acknowledgements between batches, topic mapping, throttling, failures.

The Kafka side is covered by tests/integration/test_simulate.py against the real broker; here a
recording stand-in checks the calls the simulator makes and in which order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError

from pipeline.simulator.exceptions import ProduceError, SimulatorError
from pipeline.simulator.producer import Throttle, produce
from pipeline.simulator.traffic import SimulationConfig, generate

TRAFFIC = generate(
    SimulationConfig(50, 1200, 5, datetime(2026, 4, 1, 6, tzinfo=UTC), 3, chunk_size=100)
)


class _Future:
    def __init__(self, ok: bool) -> None:
        self.is_done = True
        self.exception = None if ok else KafkaTimeoutError()

    def failed(self) -> bool:
        return self.exception is not None


class Recorder:
    """Records send/flush calls; ``fail_after`` sends fail (unacknowledged)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_after = fail_after

    def send(self, topic: str, value: bytes, key: bytes, timestamp_ms: int) -> _Future:
        self.calls.append(("send", (topic, key, value, timestamp_ms)))
        sent = sum(1 for c in self.calls if c[0] == "send")
        return _Future(self.fail_after is None or sent <= self.fail_after)

    def flush(self, timeout: float) -> None:
        self.calls.append(("flush", timeout))


def test_every_message_is_sent_in_order_with_a_flush_after_each_batch() -> None:
    rec = Recorder()
    sent = produce(TRAFFIC, rec, envelopes=False)
    sends = [c[1] for c in rec.calls if c[0] == "send"]
    assert [(t, k, v, ts) for t, k, v, ts in sends] == [
        (m.topic, m.key, m.value, m.timestamp_ms) for m in TRAFFIC.messages
    ]
    batches = list(TRAFFIC.batches())
    assert len(batches) > 2
    expected = "".join("S" * len(batch) + "F" for batch in batches)
    assert "".join("S" if c[0] == "send" else "F" for c in rec.calls) == expected
    assert sum(sent.values()) == 1200


def test_topics_can_be_redirected() -> None:
    rec = Recorder()
    mapping = {t: f"test-{t}" for t in ("app.navigation.v1", "app.geolocation.v1",
                                        "privacy.consent.v1")}  # fmt: skip
    sent = produce(TRAFFIC, rec, topics=mapping)
    assert {c[1][0] for c in rec.calls if c[0] == "send"} <= set(mapping.values())
    assert set(sent) <= set(mapping)  # counts stay by contract name


def test_progress_reports_every_message() -> None:
    seen: list[int] = []
    produce(TRAFFIC, Recorder(), progress=seen.append)
    assert sum(seen) == len(TRAFFIC.messages)


def test_unacknowledged_messages_stop_the_run() -> None:
    rec = Recorder(fail_after=150)
    with pytest.raises(ProduceError, match="not acknowledged"):
        produce(TRAFFIC, rec)
    assert sum(c[0] == "send" for c in rec.calls) < len(TRAFFIC.messages)


def test_kafka_errors_become_one_line_errors() -> None:
    class Broken(Recorder):
        def flush(self, timeout: float) -> None:
            raise KafkaTimeoutError("flush timed out")

    with pytest.raises(ProduceError, match="KafkaTimeoutError"):
        produce(TRAFFIC, Broken())


def test_throttle_keeps_the_average_rate() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    throttle = Throttle(10.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(21):
        throttle.wait()
    assert clock[0] == pytest.approx(2.0)  # 21 messages at 10/s: the last one at t = 2 s
    unlimited = Throttle(None, clock=lambda: 0.0, sleep=sleep)
    before = len(slept)
    unlimited.wait()
    assert len(slept) == before


def test_throttle_refuses_a_non_positive_rate() -> None:
    with pytest.raises(SimulatorError, match="--rate"):
        Throttle(0.0)
