"""Fixtures for engine tests: dict-backed tables, a fence with no gaps, a real keyring."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import keys
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.topics import TopicNames
from processors.context import Runtime
from processors.engine import Engine
from processors.messages import Msg
from processors.outbox import Outbox
from processors.refs import decision_ref
from processors.store import Store
from processors.subject import Subject, subject_of
from processors.subjectkeys import SubjectKeys
from processors.table import MemoryTable
from tests.support.enginefeed import LogFence

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FakeRing:
    """Deterministic stand-in for keys.Keyring: opaque tokens, keyed pseudonyms."""

    def __init__(self) -> None:
        self.plaintexts: list[bytes] = []

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str:
        self.plaintexts.append(plaintext)
        return f"tok{len(self.plaintexts)}"

    def decrypt(self, purpose: str, field: str, token: str) -> bytes:
        return self.plaintexts[int(token.removeprefix("tok")) - 1]

    def pseudonym(self, purpose: str, user_id: str, at: datetime) -> str:
        import hashlib
        import hmac

        return hmac.new(b"k" + purpose.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:32]

    def epoch_of(self, purpose: str, at: datetime) -> str:
        return at.strftime("%Y-%m")

    def subject_handle(self, user_id: str) -> str:
        return self.pseudonym("subject-handle", user_id, NOW)

    def refresh_if_due(self) -> bool:
        return False


class FakeSubjectKeys:
    """Stand-in for the subject keys: FakeRing's opaque short tokens, shredded handles noted
    (for tests whose outputs must stay small)."""

    def __init__(self, ring: FakeRing) -> None:
        self.ring = ring
        self.shredded: list[bytes] = []

    def encrypt(self, subject: Subject, purpose: str, field: str, plaintext: bytes,
                at: datetime) -> str:
        return self.ring.encrypt(purpose, field, plaintext, at)

    def shred(self, subject: Subject) -> None:
        self.shredded.append(subject.handle)

    def forget_cached(self) -> None:
        return None

    def take_created(self) -> bool:
        return False


class NoGapFence(LogFence):
    """A fence over a fake log: what was 'produced' but not yet delivered can be side-read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, int, int, int]] = []

    def append(self, m: Msg) -> None:
        self.log.setdefault((m.topic, m.partition), []).append(m)

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Msg]:
        self.reads.append((topic, partition, start, end))
        return await super().read(topic, partition, start, end)


def raw_ids(ring: Any, msgs: list[Msg]) -> dict[str, str]:
    """Keyed decision id -> raw event id of the events in ``msgs`` (FakeRing: epoch-free)."""
    out: dict[str, str] = {}
    for m in msgs:
        try:
            event_id = json.loads(m.value)["event_id"]
        except (ValueError, KeyError, TypeError):
            continue
        ref = decision_ref(ring, event_id, NOW, NOW)
        if ref is not None:
            out[ref] = event_id
    return out


class Harness:
    """Produces events into the fake log and runs the engine over chosen records."""

    def __init__(
        self,
        engine: Engine,
        fence: NoGapFence,
        sent: list[tuple[str, int, Any]],
        clock: list[float],
        tombstones: list[tuple[str, int, bytes]] | None = None,
    ) -> None:
        self.engine, self.fence, self.sent, self.clock = engine, fence, sent, clock
        self.tombstones: list[tuple[str, int, bytes]] = [] if tombstones is None else tombstones
        """Kafka tombstones sent: (topic, partition, key)."""
        self.names = engine.rt.names
        # One loop for the whole test, as in a worker: outputs of a batch stay in flight
        # until the next flush.
        self.loop = asyncio.new_event_loop()

    def produce(self, topic: str, event: dict[str, Any] | bytes, partition: int = 0) -> Msg:
        value = event if isinstance(event, bytes) else json.dumps(event).encode()
        offset = len(self.fence.log.get((topic, partition), []))
        m = Msg(topic, partition, offset, b"k", value)
        self.fence.append(m)
        return m

    def run(self, *msgs: Msg) -> None:
        self.loop.run_until_complete(self.engine.process(list(msgs)))

    def commit(self) -> None:
        """The group commits every record the engine handled (the worker acked its batches)."""
        for topic, partition in list(self.fence.log):
            done = self.loop.run_until_complete(self.engine.next_offset(topic, partition))
            self.fence.commits[(topic, partition)] = done

    def tick(self, advance_s: float = 0.0) -> None:
        self.clock[0] += advance_s
        self.loop.run_until_complete(self.engine.tick())

    def records(self, topic: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for t, _, value in self.sent:
            if t == topic:
                decoded = json.loads(value)
                out.extend(decoded.get("records", [decoded]))
        return out

    def subject(self, user: str) -> Subject:
        """The user as the tables know them (keyed handle, partition)."""
        return subject_of(self.engine.rt.ring, user, self.engine.rt.partitions)

    def ref(self, event_id: str) -> str | None:
        """The keyed id decision records carry for raw ``event_id`` (FakeRing: epoch-free)."""
        return decision_ref(self.engine.rt.ring, event_id, NOW, NOW)

    def raw_ids(self) -> dict[str, str]:
        """Keyed decision id -> raw event id of every event produced so far (decisions never
        carry the raw id; a test names events by theirs)."""
        return raw_ids(self.engine.rt.ring, [m for msgs in self.fence.log.values() for m in msgs])

    def outcomes(self, event_id: str) -> dict[str, str]:
        ref = self.ref(event_id)
        for r in self.records(self.names.decisions):
            if r["kind"] == "event" and r["event_id"] == ref:
                return dict(r["outcomes"])
        raise AssertionError(f"no decision for {event_id}")


@pytest.fixture
def ring(tmp_path: Path, policy: Any) -> keys.Keyring:
    """A real keyring with the policy's purposes, in a temporary data directory."""
    settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)})
    created, _ = keys.init_keyring(settings, policy.key_specs(), clock=lambda: NOW)
    return created


@pytest.fixture
def policy() -> Any:
    return load_policy(None)


def build_harness(policy: Any, ring: Any = None, store: Store | None = None,
                  subject_keys: Any = None) -> Harness:
    """An engine over in-memory tables (or ``store``), a recording outbox and a fixed clock;
    ``subject_keys``: the engine's (default: in memory over ``ring``)."""
    sent: list[tuple[str, int, Any]] = []
    tombstones: list[tuple[str, int, bytes]] = []
    clock = [NOW.timestamp()]

    async def send(
        topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> Any:
        if value is None:
            assert key is not None
            tombstones.append((topic, partition, key))
        else:
            sent.append((topic, partition, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    ring = FakeRing() if ring is None else ring
    rt = Runtime(policy=policy, ring=ring, names=TopicNames(""), clock=lambda: clock[0])
    store = Store({}, {}, {}, {}) if store is None else store
    fence = NoGapFence()
    subject_keys = SubjectKeys(ring, MemoryTable()) if subject_keys is None else subject_keys
    engine = Engine(rt, store, Outbox(send), fence, subject_keys)
    return Harness(engine, fence, sent, clock, tombstones)


@pytest.fixture
def harness(policy: Any) -> Harness:
    return build_harness(policy)


def at(minutes: float) -> str:
    """An occurred_at ``minutes`` after NOW (negative: before)."""
    return (NOW + timedelta(minutes=minutes)).isoformat()


APP = {"name": "mm-mobile", "platform": "ios", "version": "1.0"}


@pytest.fixture
def nav() -> Callable[..., dict[str, Any]]:
    def make(
        event_id: str, user: str, minutes: float, screen: str = "home", **kw: Any
    ) -> dict[str, Any]:
        return {
            "schema": "navigation/1",
            "event_id": event_id,
            "user_id": user,
            "occurred_at": at(minutes),
            "app": APP,
            "type": "screen_view",
            "screen": screen,
            **kw,
        }

    return make


@pytest.fixture
def consent() -> Callable[..., dict[str, Any]]:
    def make(event_id: str, user: str, minutes: float, **purposes: bool) -> dict[str, Any]:
        extra = purposes.pop("_extra", {}) if "_extra" in purposes else {}
        return {
            "schema": "consent/1",
            "event_id": event_id,
            "user_id": user,
            "occurred_at": at(minutes),
            "purposes": purposes,
            "source": "banner",
            **extra,
        }

    return make
