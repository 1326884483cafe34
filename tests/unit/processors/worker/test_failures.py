"""Permanent vs transient failures: a record Kafka refuses for good is dead-lettered, once."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiokafka.errors as aioerrors
import kafka.errors as kerrors
import pytest
from faust.exceptions import ProducerSendError

from processors.context import Runtime
from processors.engine import Engine
from processors.exceptions import StateTooLarge
from processors.messages import Msg
from processors.outbox import Outbox
from processors.store import Store
from processors.worker import Worker
from processors.worker.failures import classify, reason_of
from tests.unit.processors.conftest import NOW, FakeRing, FakeSubjectKeys, NoGapFence, at, raw_ids


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except Exception as exc:
            raise ProducerSendError(f"Error while sending: {exc!r}") from exc
    except ProducerSendError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (aioerrors.MessageSizeTooLargeError(), "permanent"),
        (aioerrors.RecordTooLargeError(), "permanent"),
        (aioerrors.CorruptRecordException(), "permanent"),
        (kerrors.InvalidRecordError(), "permanent"),
        (kerrors.MessageSizeTooLargeError(), "permanent"),
        (StateTooLarge("consent", 2, 1), "permanent"),
        (_wrapped(aioerrors.MessageSizeTooLargeError()), "permanent"),
        (aioerrors.NotLeaderForPartitionError(), "transient"),
        (aioerrors.KafkaTimeoutError(), "transient"),
        (kerrors.KafkaTimeoutError(), "transient"),
        (_wrapped(aioerrors.RequestTimedOutError()), "transient"),
        (ConnectionResetError(), "transient"),
        (ValueError("a bug"), "fatal"),
    ],
)
def test_errors_are_classified_at_the_kafka_boundary(exc: BaseException, kind: str) -> None:
    assert classify(exc) == kind


def test_reason_names_the_refusal_and_no_data() -> None:
    reason = reason_of(_wrapped(aioerrors.MessageSizeTooLargeError("user u-123 value ...")))
    assert reason == "output refused by Kafka for good: MessageSizeTooLargeError"


class World:
    """The agent's batch loop over a fake producer, with exits turned into test failures."""

    def __init__(
        self, worker: Worker, policy: Any, monkeypatch: Any, refuse: bool, max_bytes: int
    ) -> None:
        self.worker = worker
        self.sent: list[tuple[str, int, bytes]] = []
        ring = FakeRing()
        self.rt = Runtime(
            policy=policy, ring=ring, names=worker.names, clock=lambda: NOW.timestamp()
        )
        self.fence = NoGapFence()
        self.refuse = refuse
        outbox = Outbox(self.send, max_bytes=max_bytes)
        # Opaque short tokens: the bound above is about the sanitized record, not the cipher.
        self.engine = Engine(self.rt, Store({}, {}, {}, {}), outbox, self.fence,
                             FakeSubjectKeys(ring))

        async def nothing() -> None:
            return None

        def no_exit(code: int) -> None:
            raise AssertionError(f"worker exited with {code}")

        monkeypatch.setattr(worker, "_engine", self.engine)
        monkeypatch.setattr(worker, "_generation", worker.app.consumer_generation_id)
        monkeypatch.setattr(worker, "_changelogs_known", nothing)
        monkeypatch.setattr(worker, "_tables_durable", nothing)
        monkeypatch.setattr(os, "_exit", no_exit)

    async def send(
        self, topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> Any:
        if self.refuse and b"poison" in value and topic != self.rt.names.deadletter:
            # As faust reports a record the broker refused.
            raise ProducerSendError("refused") from aioerrors.MessageSizeTooLargeError()
        self.sent.append((topic, partition, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    def batch(self) -> list[Msg]:
        grant = {"schema": "consent/1", "event_id": "c0", "user_id": "u1",
                 "occurred_at": at(-30), "purposes": {"audience_measurement": True},
                 "source": "banner"}
        out = [Msg(self.rt.names.consent, 0, 0, b"u1", json.dumps(grant).encode())]
        for i, screen in enumerate(["home", "poison" + "p" * 500, "contracts"]):
            view = {"schema": "navigation/1", "event_id": f"e{i}", "user_id": "u1",
                    "occurred_at": at(-10), "type": "screen_view", "screen": screen,
                    "app": {"name": "a", "platform": "ios", "version": "1"}}
            out.append(Msg(self.rt.names.navigation, 0, i, b"u1", json.dumps(view).encode()))
        for m in out:
            self.fence.append(m)
        return out

    def records(self, topic: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for t, _, v in self.sent:
            if t == topic:
                decoded = json.loads(v)
                out.extend(decoded.get("records", [decoded]))
        return out

    def events(self) -> set[str]:
        """Raw ids of the navigation events decided (decisions carry keyed ids)."""
        raw = raw_ids(self.rt.ring, [m for msgs in self.fence.log.values() for m in msgs])
        return {
            raw[r["event_id"]]
            for r in self.records(self.rt.names.decisions)
            if r["kind"] == "event" and r["stream"] == "navigation"
        }


def test_an_output_over_the_bound_dead_letters_its_input_and_nothing_else(
    policy: Any, monkeypatch: Any, worker: Worker
) -> None:
    world = World(worker, policy, monkeypatch, refuse=False, max_bytes=700)
    asyncio.run(worker._process(world.batch()))
    [dead] = world.records(world.rt.names.deadletter)
    assert dead["offset"] == 1 and dead["topic"] == world.rt.names.navigation
    assert "over the 700-byte bound" in dead["reason"]
    # Checked before anything was sent: the refused input has no decision, only its dead letter.
    assert world.events() == {"e0", "e2"}
    invalid = [r for r in world.records(world.rt.names.decisions) if r["kind"] == "invalid"]
    assert [r["source"] for r in invalid] == [f"{world.rt.names.navigation}:0:1"]
    # Positions moved past it: a later batch does not meet it again.
    assert asyncio.run(world.engine.next_offset(world.rt.names.navigation, 0)) == 3


def test_a_record_the_broker_refuses_is_dead_lettered_and_the_worker_goes_on(
    policy: Any, monkeypatch: Any, worker: Worker
) -> None:
    world = World(worker, policy, monkeypatch, refuse=True, max_bytes=900 * 1024)
    asyncio.run(worker._process(world.batch()))
    [dead] = world.records(world.rt.names.deadletter)
    assert dead["offset"] == 1
    assert dead["reason"] == "output refused by Kafka for good: MessageSizeTooLargeError"
    assert {"e0", "e2"} <= world.events()
    assert asyncio.run(world.engine.next_offset(world.rt.names.navigation, 0)) == 3
