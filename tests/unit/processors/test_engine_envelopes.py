"""Envelopes in the engine: each event of a ``batch/1`` record is validated, decided, held,
de-duplicated and dead-lettered on its own; the record is one offset."""

from __future__ import annotations

import json
from typing import Any

from processors.engine import Engine
from processors.held import HeldEvents, event_key
from processors.limits import Limits
from processors.messages import Msg
from processors.subject import Subject
from processors.table import MemoryTable
from schemas.envelope import wrap
from schemas.records import Held
from tests.unit.processors.conftest import FakeRing, FakeSubjectKeys, Harness, at, build_harness

NAV = "app.navigation.v1"
CON = "privacy.consent.v1"


def send(h: Harness, topic: str, user: str, *events: dict[str, Any] | bytes) -> Msg:
    """Produce one envelope keyed by ``user`` holding ``events``."""
    values = [e if isinstance(e, bytes) else json.dumps(e).encode() for e in events]
    offset = len(h.fence.log.get((topic, 0), []))
    m = Msg(topic, 0, offset, user.encode(), wrap(values))
    h.fence.append(m)
    return m


def restart(h: Harness) -> None:
    """A new worker over the same tables, from the committed offsets (none: a kill -9)."""
    old = h.engine
    h.engine = Engine(old.rt, old.store, old.outbox, old.fence, old.subject_keys)


def decisions(h: Harness, kind: str) -> list[dict[str, Any]]:
    return [r for r in h.records("pipeline.decisions.v1") if r["kind"] == kind]


def test_each_event_of_an_envelope_is_decided(harness, nav, consent):
    c = send(
        harness,
        CON,
        "u1",
        consent("c1", "u1", -30, audience_measurement=True),
        consent("c2", "u1", -25, personalisation=True),
    )
    e = send(harness, NAV, "u1", nav("e1", "u1", -20), nav("e2", "u1", -10, screen="x"))
    harness.run(c, e)
    for event_id in ("e1", "e2"):
        outcomes = harness.outcomes(event_id)
        assert outcomes["audience_measurement"] == "kept"
        assert outcomes["personalisation"] == "kept"
    screens = [r["screen"] for r in harness.records("sanitized.audience_measurement.v1")]
    assert sorted(screens) == ["home", "x"]


def plain_harness(policy: Any) -> Harness:
    """A harness whose dead letters' plaintexts the fake ring records."""
    ring = FakeRing()
    return build_harness(policy, ring=ring, subject_keys=FakeSubjectKeys(ring))


def test_an_invalid_event_is_dead_lettered_alone_with_its_own_bytes(policy, nav):
    harness = plain_harness(policy)
    bad = json.dumps({"schema": "navigation/1", "event_id": "bad"}).encode()
    other = nav("e3", "u2", -10)
    e = send(harness, NAV, "u1", nav("e1", "u1", -10), bad, other, nav("e2", "u1", -9))
    harness.run(e)
    assert harness.outcomes("e1") and harness.outcomes("e2")
    dead = harness.records("pipeline.deadletter.v1")
    assert [d["reason"].split(":")[0] for d in dead] == ["envelope event 1", "envelope event 2"]
    assert "not the message key" in dead[1]["reason"] and "u2" not in dead[1]["reason"]
    assert all(d["offset"] == e.offset for d in dead)
    kept = harness.engine.rt.ring.plaintexts
    assert bad in kept and json.dumps(other).encode() in kept
    assert e.value not in kept  # never the whole envelope
    sources = [r["source"] for r in decisions(harness, "invalid")]
    assert sources == [f"{NAV}:0:0#1", f"{NAV}:0:0#2"]  # distinct: the sink counts both


def test_an_event_of_another_topic_is_dead_lettered_alone(harness, nav, consent):
    e = send(harness, NAV, "u1", consent("c1", "u1", -20, advertising=True), nav("e1", "u1", -10))
    harness.run(e)
    [dead] = harness.records("pipeline.deadletter.v1")
    assert dead["reason"] == f"envelope event 0: schema consent/1 does not belong on {NAV}"
    assert harness.outcomes("e1")["advertising"] == "dropped_no_consent"


def test_a_malformed_envelope_is_one_dead_letter(policy):
    harness = plain_harness(policy)
    m = send(harness, NAV, "u1", b"{")
    harness.run(m)
    [dead] = harness.records("pipeline.deadletter.v1")
    assert dead["reason"].startswith("event: not valid JSON")
    assert harness.engine.rt.ring.plaintexts == [m.value]
    assert [r["source"] for r in decisions(harness, "invalid")] == [f"{NAV}:0:0"]


def test_events_of_an_envelope_are_held_one_by_one_and_once(harness, nav, consent):
    e = send(harness, NAV, "u1", nav("e1", "u1", -0.1), nav("e2", "u1", -0.05))
    harness.run(e)
    assert harness.engine.held_count == 2
    restart(harness)  # a kill -9 before the commit: the envelope is delivered again
    harness.run(e)
    assert harness.engine.held_count == 2
    held = harness.engine.store.held(harness.engine._subject_of("u1"))
    assert [h.index for h in held] == [0, 1]
    harness.run(send(harness, CON, "u1", consent("c1", "u1", 0, audience_measurement=True)))
    assert harness.outcomes("e1")["audience_measurement"] == "kept"
    assert harness.outcomes("e2")["audience_measurement"] == "kept"
    assert harness.engine.held_count == 0
    assert len([r for r in decisions(harness, "event") if r["stream"] == "navigation"]) == 2


def test_replaying_an_envelope_counts_nothing_twice(harness, nav, consent):
    c = send(harness, CON, "u1", consent("c1", "u1", -30, audience_measurement=True))
    e = send(harness, NAV, "u1", nav("e1", "u1", -20), b"[]", nav("e2", "u1", -10))
    harness.run(c, e)
    first = harness.records("pipeline.decisions.v1")
    restart(harness)
    harness.run(c, e)  # nothing committed: the whole envelope is decided again
    again = harness.records("pipeline.decisions.v1")[len(first) :]

    def keys(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
        # The sink's de-duplication keys: (kind, event id) and (invalid, source).
        return sorted((r["kind"], r.get("event_id") or r.get("source")) for r in records)

    assert len(again) == len(first) and keys(again) == keys(first)
    assert len({k for k in keys(first) if k[0] == "event"}) == 3  # c1, e1, e2


def test_an_envelope_already_handled_is_skipped(harness, nav):
    e = send(harness, NAV, "u1", nav("e1", "u1", -20), nav("e2", "u1", -10))
    harness.run(e)
    count = len(harness.records("pipeline.decisions.v1"))
    harness.run(e)  # delivered again to the same worker: one offset, handled
    assert len(harness.records("pipeline.decisions.v1")) == count


def test_a_consent_envelope_applies_each_event(harness, nav, consent):
    objection = {
        "schema": "rights/1",
        "event_id": "r1",
        "user_id": "u1",
        "occurred_at": at(-25),
        "right": "objection",
    }
    c = send(harness, CON, "u1", consent("c1", "u1", -30, advertising=True), objection)
    harness.run(c, harness.produce(NAV, nav("e1", "u1", -10)))
    outcomes = harness.outcomes("e1")
    assert outcomes["advertising"] == "kept"
    assert outcomes["fraud_prevention"] == "dropped_objection"


U1 = Subject(b"0" * 32, 0)


def test_held_events_of_one_record_are_told_apart_by_index() -> None:
    holds = HeldEvents(MemoryTable(), MemoryTable(), Limits())
    first, second = Held(NAV, 0, 7, b"a", 1.0, 0), Held(NAV, 0, 7, b"b", 1.0, 1)
    assert holds.add(U1, first) == "first"
    assert holds.add(U1, second) == "added"
    assert holds.add(U1, first) == "already" and holds.add(U1, second) == "already"
    assert holds.add(U1, Held(NAV, 0, 8, b"c", 1.0)) == "added"
    assert [h.value for h in holds.take_due(U1)] == [b"a", b"b", b"c"]


def test_held_records_written_before_envelopes_still_read() -> None:
    events = {}
    index = {U1.handle: b'{"first":0,"next":1,"size":1,"partition":0,"head":1.0,"last":{"t:0":4}}'}
    holds = HeldEvents(MemoryTable(index), MemoryTable(events), Limits())
    events[event_key(U1.handle, 0)] = b'["t",0,4,"YQ==",1.0]'  # no index: one event per record
    assert holds.add(U1, Held("t", 0, 4, b"a", 1.0)) == "already"
    assert holds.add(U1, Held("t", 0, 4, b"b", 1.0, 1)) == "added"
    assert [(h.offset, h.index) for h in holds.take_due(U1)] == [(4, 0), (4, 1)]
