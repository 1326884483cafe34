"""The engine's outputs, byte for byte, over a few thousand simulated records.

Every message the engine sends (sanitized records, decisions, dead letters, tombstones, in
order), its counts and its tables at the end are hashed and compared with digests computed on
the engine before its batch rework (the commit that added this test): a refactor that changes
one byte of output, or the order of outputs, fails here. The deterministic fakes of the
conftest stand in for the keyring (a real one encrypts under random nonces). If a change is
meant to alter the outputs, say why in its commit and update the digests.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest

from processors.context import Runtime, TopicNames
from processors.engine import Engine
from processors.outbox import Outbox
from processors.store import Store
from tests.support.enginefeed import GrowingFence, batches, feed, recording_send, simulated
from tests.unit.processors.conftest import FakeRing, FakeSubjectKeys

GOLDEN = {
    "single": "94f0945f83286e5aaa2bd21487c86bfdca3874bfa83530158acdc1884064f9e7",
    "envelopes": "192f402f918baa4bce65b8e2c74b8de4c514d123499ed70bba3df19ce82dac84",
}


def _digest(sent: list[Any], counts: Any, tables: list[dict[bytes, bytes]]) -> str:
    h = hashlib.sha256()
    for topic, partition, value, key in sent:
        h.update(repr((topic, partition, key)).encode())
        h.update(value or b"<tombstone>")
    h.update(repr(sorted(counts.items())).encode())
    for table in tables:
        h.update(repr(sorted(table.items())).encode())
    return h.hexdigest()


# (users, seed, consent delay): answers reach Kafka after the first events, so events are
# held and released; the second run has erasures, the first withdrawals and objections.
RUNS = {"single": (1000, 11, 20.0), "envelopes": (2000, 3, 40.0)}


def _run(policy: Any, shape: str) -> str:
    users, seed, delay = RUNS[shape]
    records = simulated(users, 5000, seed, hours=1, envelopes=shape == "envelopes",
                        consent_delay_s=delay)
    work = batches(records, 40)
    clock = [work[0][1]]
    ring = FakeRing()
    rt = Runtime(policy=policy, ring=ring, names=TopicNames(""), clock=lambda: clock[0])
    tables: list[dict[bytes, bytes]] = [{} for _ in range(6)]
    sent: list[Any] = []
    fence = GrowingFence()
    consent, held, erased, audit, held_events, entries = tables
    store = Store(consent, held, erased, audit, held_events, entries)
    engine = Engine(rt, store, Outbox(recording_send(sent)), fence,
                    FakeSubjectKeys(ring))
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(feed(engine.process, fence, work, clock))
        clock[0] += rt.bounds.grace_s + 1  # every held event is released
        loop.run_until_complete(engine.tick())
    finally:
        loop.close()
    assert engine.held_count == 0
    return _digest(sent, engine.counts, tables)


@pytest.mark.parametrize("shape", ["single", "envelopes"])
def test_outputs_are_byte_identical_to_the_golden_run(policy: Any, shape: str) -> None:
    assert _run(policy, shape) == GOLDEN[shape]
