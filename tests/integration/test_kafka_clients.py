"""The client factories of ``pipeline.kafka`` against the real broker."""

from __future__ import annotations

from collections.abc import Callable

from kafka import KafkaProducer

from pipeline.kafka import make_consumer, wait_for_broker
from pipeline.settings import Settings


def test_wait_for_broker_returns_quickly_when_up(settings: Settings) -> None:
    assert wait_for_broker(settings, timeout=10) < 10


def test_idempotent_producer_roundtrip_keeps_key_order(
    settings: Settings, producer: KafkaProducer, new_topic: Callable[..., str]
) -> None:
    topic = new_topic(partitions=3)
    assert producer.config["enable_idempotence"] is True
    assert producer.config["acks"] in ("all", -1)
    sent = [(f"k{i % 4}".encode(), f"v{i}".encode()) for i in range(40)]
    for key, value in sent:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    consumer = make_consumer(settings, topic, group_id=None, consumer_timeout_ms=5000)
    try:
        got = [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()
    assert sorted(got) == sorted(sent)
    for key in {k for k, _ in sent}:  # per key, order is preserved (same partition)
        assert [v for k, v in got if k == key] == [v for k, v in sent if k == key]
