"""``simulate`` against the real broker: 10,000 events produced, all read back as the truth says."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from pipeline.kafka import make_consumer, make_producer
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.simulator import SimulationConfig, generate, ground_truth, produce, write_truth
from pipeline.simulator.clock import default_start
from pipeline.simulator.envelopes import pack
from pipeline.simulator.model import CONSENT, GEOLOCATION, NAVIGATION
from pipeline.simulator.traffic import Traffic
from schemas import validator

EVENTS = 10_000
PARTITIONS = 6
READ_BACK_S = 60.0


@pytest.fixture
def topics(new_topic) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Uuid-named stand-ins for the three input topics, co-partitioned like the contract's."""
    return {
        NAVIGATION: new_topic(PARTITIONS),
        GEOLOCATION: new_topic(PARTITIONS),
        CONSENT: new_topic(PARTITIONS, cleanup_policy="compact"),
    }


@pytest.fixture
def consumer(settings: Settings) -> Iterator[KafkaConsumer]:
    client = make_consumer(settings, client_id="test-simulate-read-back")
    yield client
    client.close()


def _read_all(consumer: KafkaConsumer, names: list[str], expected: int) -> list[Any]:
    """Every event of the topics, one record each (an envelope's events: copies of its record
    with the event's bytes as value), in offset order within a partition."""
    partitions = [TopicPartition(t, p) for t in names for p in range(PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records: list[Any] = []
    deadline = time.monotonic() + READ_BACK_S
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
            for r in batch:
                items = validator.decode_message(r.value, r.key)
                records += [r] if items[0].index is None else [
                    r._replace(value=item.raw) for item in items
                ]
    return records


@pytest.mark.timeout(240)
def test_ten_thousand_events_are_produced_and_read_back(
    settings: Settings, topics: dict[str, str], consumer: KafkaConsumer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    traffic: Traffic = generate(SimulationConfig(1000, EVENTS, 11, default_start(now, 5), 5))
    truth = ground_truth(traffic, load_policy(), now)
    producer = make_producer(settings, client_id="test-simulate")
    try:
        sent = produce(traffic, producer, topics=topics)
    finally:
        producer.close(timeout=10)
    assert sent == truth["sent"] and sum(sent.values()) == EVENTS
    write_truth(truth, traffic, tmp_path / "truth.json")
    assert json.loads((tmp_path / "truth.json").read_text())["sent"] == truth["sent"]

    records = _read_all(consumer, list(topics.values()), EVENTS)
    contract = {name: topic for topic, name in topics.items()}
    got = Counter(contract[r.topic] for r in records)
    assert dict(got) == truth["sent"]

    # Same bytes, same keys (user ids) as generated, per topic; the timestamp of the message
    # that carried them (an envelope's: its latest event's). Fewer messages than events.
    stamp = {}
    for batch in traffic.batches():
        for packed in pack(batch):
            for item in validator.decode_message(packed.message.value, packed.message.key):
                stamp[(packed.message.topic, item.raw)] = packed.message.timestamp_ms
    expected = Counter((m.topic, m.key, m.value, stamp[(m.topic, m.value)])
                       for m in traffic.messages)
    received = Counter((contract[r.topic], r.key, r.value, r.timestamp) for r in records)
    assert received == expected
    assert len({(r.topic, r.partition, r.offset) for r in records}) < EVENTS
    ids = json.loads((tmp_path / "truth.identifiers.json").read_text())
    assert {r.key.decode() for r in records} == set(ids["user_ids"])
    for m in traffic.messages:
        if m.malformed is None:
            assert json.loads(m.value)["user_id"].encode() == m.key

    # Co-partitioned: a user's messages land on the same partition number in every topic;
    # within a partition, batches keep production order and a user's events theirs.
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for r in records:
        partition_of[r.key].add(r.partition)
    assert all(len(parts) == 1 for parts in partition_of.values())
    # The simulator repeats some events (redeliveries): a repeated value's occurrences are
    # matched in order, the first one read to the first one generated.
    order: dict[tuple[str, bytes], deque[tuple[int, int]]] = defaultdict(deque)
    for i, m in enumerate(traffic.messages):
        order[(m.topic, m.value)].append((m.batch, i))
    by_partition: dict[tuple[str, int], list[int]] = defaultdict(list)
    by_user: dict[tuple[str, bytes], list[int]] = defaultdict(list)
    for r in records:  # offset order within a partition, events in envelope order
        batch, position = order[(contract[r.topic], r.value)].popleft()
        by_partition[(r.topic, r.partition)].append(batch)
        if traffic.messages[position].malformed is None:
            # A malformed message stays single (not in its user's envelope): only events
            # keep their user's order.
            by_user[(r.topic, r.key)].append(position)
    assert all(seq == sorted(seq) for seq in by_partition.values())
    assert all(seq == sorted(seq) for seq in by_user.values())
