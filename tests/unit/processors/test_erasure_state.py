"""Worker state keyed by subject handle; erasure deletes every key; tombstones expire (issue 12)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from processors.engine import TOMBSTONE_MARGIN_S, Engine
from processors.messages import Msg
from processors.store import Store
from processors.subject import partition_of
from processors.table import MemoryTable, is_handle
from tests.unit.processors.conftest import Harness, at, build_harness

NAV, CON = "app.navigation.v1", "privacy.consent.v1"
DECISIONS, DEAD = "pipeline.decisions.v1", "pipeline.deadletter.v1"
ALICE, BOB = "alice-contract-77120", "bob-contract-55031"


class Tables:
    """The six dict-backed tables of a store, by name."""

    def __init__(self) -> None:
        self.by_name = {
            name: MemoryTable()
            for name in ("consent", "held", "erased", "audit", "held_event", "audit_entry")
        }

    def store(self) -> Store:
        t = self.by_name
        return Store(t["consent"], t["held"], t["erased"], t["audit"], t["held_event"],
                     t["audit_entry"])  # fmt: skip

    def filled(self) -> dict[str, list[bytes]]:
        """The keys of every non-empty table, by table name."""
        return {name: list(t.data) for name, t in self.by_name.items() if t.data}


def rights(event_id: str, user: str, right: str, minutes: float, **kw: Any) -> dict[str, Any]:
    return {"schema": "rights/1", "event_id": event_id, "user_id": user,
            "occurred_at": at(minutes), "right": right, **kw}  # fmt: skip


def make(policy: Any) -> tuple[Harness, Tables]:
    t = Tables()
    return build_harness(policy, store=t.store()), t


def holding(t: Tables, raw: bytes, allowed: set[str]) -> list[tuple[str, bytes]]:
    """Where ``raw`` appears in a key, or in a value outside the tables named in ``allowed``."""
    found = []
    for name, table in t.by_name.items():
        for key, value in table.data.items():
            if raw in key or (raw in value and name not in allowed):
                found.append((name, key))
    return found


def scenario(h: Harness, nav: Callable[..., Any], consent: Callable[..., Any]) -> None:
    """Consent, a hold, an objection and an access request: every table gets a key."""
    h.run(h.produce(CON, consent("c1", ALICE, -30, audience_measurement=True)))
    h.run(h.produce(NAV, nav("b1", BOB, -0.01)))  # bob has no consent yet: held
    h.run(h.produce(CON, rights("r1", ALICE, "objection", -20, purposes=["fraud_prevention"])))
    h.run(h.produce(CON, rights("r2", ALICE, "access", -19)))
    h.run(h.produce(NAV, nav("a1", ALICE, -10)))


def test_no_table_key_or_value_holds_a_raw_user_id(policy, nav, consent):
    h, t = make(policy)
    scenario(h, nav, consent)
    assert set(t.filled()) == {"consent", "held", "held_event", "audit", "audit_entry"}
    # Held originals are the one exception, until released or erased.
    assert holding(t, BOB.encode(), {"held_event"}) == []
    assert holding(t, ALICE.encode(), set()) == []
    assert holding(t, b"r1", set()) == [] and holding(t, b"r2", set()) == []  # raw request ids
    for name, table in t.by_name.items():
        for key in table.data:
            owner = key[8:] if name in ("held_event", "audit_entry") else key
            assert is_handle(owner), (name, key)
            subject = next(h.subject(u) for u in (ALICE, BOB) if h.subject(u).handle == owner)
            assert table.partitions[key] == subject.partition  # filed on the user's partition
    h.run(h.produce(CON, consent("c2", BOB, -0.005, audience_measurement=True)))  # releases
    assert holding(t, BOB.encode(), set()) == []
    assert "held_event" not in t.filled()


def test_the_rights_trail_is_one_per_user_across_ledger_days(policy, nav, consent):
    h, t = make(policy)
    h.run(h.produce(CON, rights("r1", ALICE, "access", -3 * 24 * 60)))
    h.run(h.produce(CON, rights("r2", ALICE, "access", -1)))
    assert list(t.by_name["audit"].data) == [h.subject(ALICE).handle]
    assert [r["event_id"] for r in h.engine.store.audit(h.subject(ALICE))] == [
        h.ref("r1"), h.ref("r2")]  # fmt: skip


def test_erasure_leaves_only_its_tombstone_and_audit_record(policy, nav, consent):
    h, t = make(policy)
    scenario(h, nav, consent)
    h.run(h.produce(NAV, nav("a2", ALICE, -0.01)))
    h.run(h.produce(CON, rights("r3", ALICE, "erasure", -0.005)))
    alice = h.subject(ALICE)
    for name, keys in t.filled().items():
        mine = [k for k in keys if k.endswith(alice.handle)]
        if name in ("erased", "audit", "audit_entry"):
            assert len(mine) == 1, name
        else:
            assert mine == [], name
    [record] = h.engine.store.audit(alice)
    assert record["right"] == "erasure" and record["event_id"] == h.ref("r3")
    erasure = h.engine.store.erasure(alice)
    assert erasure is not None and erasure.targets == {} and erasure.home == alice.partition
    # Bob is untouched; compaction of the consent topic drops Alice's records.
    assert h.engine.store.held(h.subject(BOB))
    assert h.tombstones == [(CON, alice.partition, ALICE.encode())]
    assert alice.partition == partition_of(ALICE, h.engine.rt.partitions)


def test_a_pending_erasure_deletes_what_was_written_while_it_waited(policy, nav, consent):
    h, t = make(policy)
    h.run(h.produce(CON, consent("c1", ALICE, -30, audience_measurement=True)))
    e1 = h.produce(NAV, nav("e1", ALICE, -20))  # acknowledged before the erasure
    h.run(h.produce(CON, rights("r1", ALICE, "erasure", -15)))
    h.run(h.produce(CON, rights("r2", ALICE, "access", -14)))  # while the erasure waits
    assert len(h.tombstones) == 1  # sent when the erasure is read (its raw id is known then)
    h.run(e1)
    h.commit()
    h.tick()
    alice = h.subject(ALICE)
    assert [r["right"] for r in h.engine.store.audit(alice)] == ["erasure"]
    assert h.engine.store.state(alice) is None
    assert "consent" not in t.filled()


def test_tombstones_expire_after_lateness_and_margin_also_after_a_restart(policy, nav, consent):
    h, t = make(policy)
    h.run(h.produce(CON, consent("c1", ALICE, -30, audience_measurement=True)))
    h.run(h.produce(CON, rights("r1", ALICE, "erasure", 0)))
    h.tick(advance_s=3600)
    h.run(h.produce(CON, rights("r2", BOB, "erasure", 60)))  # one hour later
    b = h.engine.rt.bounds
    keep = b.lateness_s + b.future_s + TOMBSTONE_MARGIN_S
    h.tick(advance_s=keep - 3600 - 1)
    assert len(t.by_name["erased"].data) == 2
    old = h.engine
    # a restart: rebuilt index (same tables and subject keys)
    h.engine = Engine(old.rt, old.store, old.outbox, old.fence, old.subject_keys)
    h.tick(advance_s=2)
    assert list(t.by_name["erased"].data) == [h.subject(BOB).handle]
    # A late event of Alice is refused as late, not kept, now her tombstone is gone.
    h.run(h.produce(NAV, nav("late", ALICE, -1)))
    assert set(h.outcomes("late").values()) == {"dropped_late"}
    h.tick(advance_s=3600)
    assert t.filled().get("erased") is None
    # The erasures' audit records stay: the only record of them.
    assert [r["right"] for r in h.engine.store.audit(h.subject(ALICE))] == ["erasure"]


def test_a_later_erasure_keeps_the_tombstone_until_its_own_expiry(policy, consent):
    h, t = make(policy)
    h.run(h.produce(CON, rights("r1", ALICE, "erasure", 0)))
    h.tick(advance_s=3600)
    h.run(h.produce(CON, rights("r2", ALICE, "erasure", 60)))  # an hour later
    b = h.engine.rt.bounds
    h.tick(advance_s=b.lateness_s + b.future_s + TOMBSTONE_MARGIN_S - 3600 + 1)
    assert list(t.by_name["erased"].data) == [h.subject(ALICE).handle]
    h.tick(advance_s=3600)
    assert not t.by_name["erased"].data


def test_a_null_consent_record_is_skipped_silently(policy, consent, nav):
    h, _ = make(policy)
    tomb = h.produce(CON, b"")
    tomb = dataclasses.replace(tomb, value=None)
    h.fence.log[(CON, 0)][tomb.offset] = tomb
    h.run(tomb)
    assert h.records(DEAD) == [] and h.records(DECISIONS) == []
    assert not any(outcome == "invalid" for (_, _, outcome) in h.engine.counts)
    # Handled: a later record of the partition is decided normally, the null one not re-read.
    h.run(h.produce(CON, consent("c1", ALICE, -30, audience_measurement=True)))
    h.run(h.produce(NAV, nav("e1", ALICE, -1)))
    assert h.outcomes("e1")["audience_measurement"] == "kept"
    assert not h.fence.reads


def test_hostile_tombstones_change_no_worker_state(policy, consent, nav):
    """A producer writing a null record for Alice's key removes no consent the worker holds."""
    h, _ = make(policy)
    h.run(h.produce(CON, consent("c1", ALICE, -30, audience_measurement=True)))
    forged = Msg(CON, 0, len(h.fence.log[(CON, 0)]), ALICE.encode(), None)
    h.fence.append(forged)
    h.run(forged)
    h.run(h.produce(NAV, nav("e1", ALICE, -1)))
    assert h.outcomes("e1")["audience_measurement"] == "kept"
    assert h.engine.store.state(h.subject(ALICE)) is not None


def test_state_keyed_by_raw_ids_before_handles_is_moved_on_recovery(policy, nav, consent):
    """An upgrade loses no consent, held event or pending erasure, and keeps no raw-id key."""
    import msgspec

    from processors.held import event_key
    from schemas.records import Erasure, Held, HeldIndex

    old, t = make(policy)  # a run of the old version, by raw id: its values, rekeyed
    old.run(old.produce(CON, consent("c1", ALICE, -30, audience_measurement=True)))
    t.by_name["consent"].data = {ALICE.encode(): t.by_name["consent"].data.popitem()[1]}
    deadline = old.clock[0] + 30
    msgs = [old.produce(NAV, nav(f"b{i}", BOB, -0.01)) for i in range(2)]
    items = [Held(m.topic, m.partition, m.offset, m.value or b"", deadline) for m in msgs]
    t.by_name["held"].data = {BOB.encode(): msgspec.json.encode(HeldIndex(0, 2, 10, 0, deadline))}
    t.by_name["held_event"].data = {
        event_key(BOB.encode(), i): msgspec.json.encode(h) for i, h in enumerate(items)
    }
    t.by_name["held_event"].data[event_key(BOB.encode(), 7)] = b"[]"  # an orphan
    pending = Erasure(old.clock[0] - 60, 0, {NAV: len(old.fence.log[(NAV, 0)]) + 1})
    t.by_name["erased"].data = {b"carol-9": msgspec.json.encode(pending)}
    h = build_harness(policy, store=t.store())
    h.fence = old.fence
    h.engine.fence = old.fence
    h.tick()  # recovery
    raw = (ALICE.encode(), BOB.encode(), b"carol-9")
    assert not [k for table in t.by_name.values() for k in table.data if any(r in k for r in raw)]
    assert h.engine.store.state(h.subject(ALICE)) is not None
    assert len(h.engine.store.held(h.subject(BOB))) == 2
    assert h.engine.store.erasure(h.subject("carol-9")).targets == pending.targets
    h.tick(advance_s=40)  # bob's held events are decided when their window ends
    assert set(h.outcomes("b0").values()) <= {"dropped_no_consent", "kept"}
