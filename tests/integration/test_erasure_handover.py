"""An erasure waits for the group's commit, read from the real broker (the worker's fence).

The engine with the worker's :class:`~processors.worker.fence.KafkaFence` over real
topics: until the group commits the events acknowledged before an erasure, the erasure does
not apply, so a new owner deciding them again (a rebalance, a restart) finds the consent
their first decision saw.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.structs import OffsetAndMetadata

from pipeline.topics import TopicNames
from processors.context import Runtime
from processors.engine import Engine
from processors.messages import Msg
from processors.metrics import WorkerMetrics
from processors.outbox import Outbox
from processors.store import Store
from processors.subject import subject_of
from processors.worker.fence import KafkaFence
from tests.unit.processors.conftest import APP, NOW, FakeRing, FakeSubjectKeys, at

USER = "handover-user"
PARTITIONS = 6


@pytest.fixture
def names(admin: KafkaAdminClient) -> Iterator[TopicNames]:
    names = TopicNames(f"it{uuid.uuid4().hex[:10]}.")
    topics = [names.consent, names.navigation, names.geolocation]
    admin.create_topics({t: {"num_partitions": PARTITIONS, "replication_factor": -1}
                         for t in topics}, wait_for_metadata=True)  # fmt: skip
    yield names
    admin.delete_topics(topics, raise_errors=False)


@pytest.fixture
def policy() -> Any:
    from pipeline.policy import load_policy

    return load_policy(None)


def _send(producer: KafkaProducer, topic: str, partition: int, event: dict[str, Any]) -> Msg:
    value = json.dumps(event).encode()
    meta = producer.send(topic, value=value, key=USER.encode(), partition=partition).get(10)
    return Msg(topic, partition, meta.offset, USER.encode(), value)


def _commit(settings: Any, group: str, msgs: list[Msg], before: bool = False) -> None:
    """The worker group commits past ``msgs`` (as faust does once their batch is acked), or
    up to them (``before``: nothing handled yet; it makes the group's coordinator ready)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_list, group_id=group,
                             enable_auto_commit=False)  # fmt: skip
    try:
        offsets = {TopicPartition(m.topic, m.partition):
                   OffsetAndMetadata(m.offset + (0 if before else 1), "", -1)
                   for m in msgs}  # fmt: skip
        consumer.assign(list(offsets))
        consumer.commit(offsets)
    finally:
        consumer.close()


def test_an_erasure_waits_for_the_group_commit(
    settings: Any, producer: KafkaProducer, names: TopicNames, policy: Any
) -> None:
    group = f"it-handover-{uuid.uuid4().hex[:8]}"
    sent: list[tuple[str, bytes]] = []

    async def send(topic: str, partition: int, value: bytes | None, key: Any = None) -> Any:
        sent.append((topic, value or b""))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    rt = Runtime(policy=policy, ring=FakeRing(), names=names, partitions=PARTITIONS,
                 clock=lambda: NOW.timestamp())
    user = subject_of(rt.ring, USER, rt.partitions)
    store = Store({}, {}, {}, {})
    grant = {"schema": "consent/1", "event_id": "c1", "user_id": USER, "occurred_at": at(-30),
             "purposes": {"audience_measurement": True}, "source": "banner"}
    view = {"schema": "navigation/1", "event_id": "e1", "user_id": USER,
            "occurred_at": at(-20), "app": APP, "type": "screen_view", "screen": "home"}
    erase = {"schema": "rights/1", "event_id": "r1", "user_id": USER, "occurred_at": at(-15),
             "right": "erasure"}  # fmt: skip

    def kept_in(outputs: list[tuple[str, bytes]]) -> bool:
        batches = [json.loads(v) for t, v in outputs if t == names.decisions]
        records = [d for b in batches for d in b.get("records", [b])]
        views = [d for d in records if d.get("stream") == "navigation"]
        return [d["outcomes"]["audience_measurement"] for d in views] == ["kept"]

    async def scenario() -> None:
        fence = KafkaFence(settings.bootstrap_servers, group, WorkerMetrics())
        try:
            c1 = _send(producer, names.consent, user.partition, grant)
            _commit(settings, group, [c1], before=True)
            engine = Engine(rt, store, Outbox(send), fence, FakeSubjectKeys(rt.ring))
            await engine.process([c1])
            _commit(settings, group, [c1])
            e1 = _send(producer, names.navigation, user.partition, view)
            r1 = _send(producer, names.consent, user.partition, erase)
            await engine.process([r1, e1])
            await engine.tick()
            assert kept_in(sent)
            assert store.state(user) is not None  # decided, not committed: the erasure waits

            sent.clear()  # a new owner over the recovered tables, from the committed offsets
            engine = Engine(rt, store, Outbox(send), fence, FakeSubjectKeys(rt.ring))
            await engine.process([r1, e1])
            assert kept_in(sent)

            _commit(settings, group, [r1, e1])
            await engine.tick()
            assert store.state(user) is None
            assert store.erasure(user) is not None and not store.erasure(user).targets
        finally:
            await fence.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))
