"""The faust agent, driven with ``agent.test_context()`` on the memory store."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

os.environ.setdefault("PRIVACY_PIPELINE_WORKER_STORE", "memory://")

from faust.types import Message

from processors import agents
from processors.context import Runtime
from processors.engine import Engine
from processors.outbox import Outbox
from processors.refs import decision_ref
from processors.store import Store
from tests.unit.processors.conftest import APP, NOW, FakeRing, FakeSubjectKeys, NoGapFence, at


def test_agent_decides_batches_through_the_engine(policy: Any, monkeypatch: Any) -> None:
    sent: list[tuple[str, int, bytes]] = []

    async def send(
        topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> Any:
        sent.append((topic, partition, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    rt = Runtime(policy=policy, ring=FakeRing(), names=agents.names, clock=lambda: NOW.timestamp())
    engine = Engine(rt, Store({}, {}, {}, {}), Outbox(send), NoGapFence(), FakeSubjectKeys(rt.ring))
    monkeypatch.setattr(agents, "_engine", engine)
    async def nothing() -> None:
        return None

    # No broker: no changelog metadata to wait for, no changelog writes to wait for.
    monkeypatch.setattr(agents, "_metadata_ready", True)
    monkeypatch.setattr(agents, "_changelogs_known", nothing)
    monkeypatch.setattr(agents, "_tables_durable", nothing)
    monkeypatch.setattr(agents, "_owned", lambda events: events)  # no consumer, no assignment

    grant = {"schema": "consent/1", "event_id": "c1", "user_id": "u1", "occurred_at": at(-20),
             "purposes": {"audience_measurement": True}, "source": "banner"}
    view = {"schema": "navigation/1", "event_id": "e1", "user_id": "u1", "occurred_at": at(-10),
            "app": APP, "type": "screen_view", "screen": "home"}

    async def scenario() -> None:
        async with agents.ingest.test_context() as agent:
            for topic, event in ((rt.names.consent, grant), (rt.names.navigation, view)):
                def to_message(key: Any, value: Any, *, topic: str = topic, **kw: Any) -> Message:
                    return Message(topic=topic, partition=0, offset=0,  # one record per topic
                                   timestamp=0.0, timestamp_type=0, headers=None, key=key,
                                   value=value, checksum=b"", serialized_key_size=0,
                                   serialized_value_size=0,
                                   generation_id=agent.app.consumer_generation_id)
                agent.to_message = to_message
                # take_events() decides in batches: don't wait per value, wait for the output.
                await agent.put(json.dumps(event).encode(), key=b"u1", wait=False)
            for _ in range(100):
                if any(t == rt.names.sanitized("audience_measurement") for t, _, _ in sent):
                    break
                await asyncio.sleep(0.05)

    asyncio.run(scenario())
    decisions = [r for t, _, v in sent if t == rt.names.decisions for r in json.loads(v)["records"]]
    [event] = [r for r in decisions if r["kind"] == "event"
                and r["event_id"] == decision_ref(rt.ring, "e1", NOW, NOW)]
    assert event["outcomes"]["audience_measurement"] == "kept"
    kept = [t for t, _, _ in sent if t == rt.names.sanitized("audience_measurement")]
    assert kept


def test_only_records_of_assigned_partitions_are_decided(monkeypatch: Any) -> None:
    from types import SimpleNamespace

    from faust.types import TP

    kept, revoked = TP("in", 0), TP("in", 1)
    consumer = SimpleNamespace(assignment=lambda: {kept})
    monkeypatch.setattr(agents, "app", SimpleNamespace(consumer=consumer))
    events = [SimpleNamespace(message=SimpleNamespace(tp=tp)) for tp in (kept, revoked, kept)]
    assert [e.message.tp for e in agents._owned(events)] == [kept, kept]
