"""Bounded state per user, whatever the input (issue 11): holds, history, audit, sizes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest

from processors.exceptions import StateTooLarge
from processors.limits import Limits, check_size
from processors.state import ConsentState, PurposeHistory
from processors.store import Store
from processors.subject import Subject
from tests.unit.processors.conftest import NOW, Harness, build_harness

NAV, CON = "app.navigation.v1", "privacy.consent.v1"
DECISIONS, DEAD = "pipeline.decisions.v1", "pipeline.deadletter.v1"


class Recorded(MutableMapping[bytes, bytes]):
    """A dict that remembers the size of every value written (what a changelog would carry)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.writes: list[int] = []

    def __getitem__(self, key: bytes) -> bytes:
        return self.data[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(len(key) + len(value))
        self.data[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class Tables:
    def __init__(self) -> None:
        self.consent, self.held, self.erased = Recorded(), Recorded(), Recorded()
        self.audit, self.events, self.entries = Recorded(), Recorded(), Recorded()


def make(policy: Any, limits: Limits, tables: Tables | None = None) -> tuple[Harness, Tables]:
    t = tables or Tables()
    store = Store(t.consent, t.held, t.erased, t.audit, t.events, t.entries, limits=limits)
    return build_harness(policy, store=store), t


def decided(h: Harness, source: Harness | None = None) -> dict[str, dict[str, str]]:
    """Outcomes by raw event id (decisions carry keyed ids) of events produced by ``source``."""
    raw = (source or h).raw_ids()
    return {
        raw[r["event_id"]]: r["outcomes"]
        for r in h.records(DECISIONS)
        if r["kind"] == "event"
    }


def big_nav(nav: Callable[..., dict[str, Any]], i: int, user: str, pad: int) -> dict[str, Any]:
    return nav(f"e{i}", user, -0.01, screen="s" * pad)


# -- holds -----------------------------------------------------------------------------------


def test_a_hold_is_one_small_write_whatever_the_user_held(policy, nav):
    h, t = make(policy, Limits(held_max_events=10_000, held_max_bytes=10**9))
    msgs = [h.produce(NAV, nav(f"e{i}", "u1", -0.01)) for i in range(300)]
    h.run(*msgs)
    assert not decided(h)  # all held
    one_event = max(len(m.value or b"") for m in msgs)
    # Each hold wrote the event once (base64 in JSON) and a constant-size index.
    assert len(t.events.writes) == 300
    assert max(t.events.writes) < one_event * 4 // 3 + 200
    assert len(t.held.writes) == 300 and max(t.held.writes) < 200  # whatever was held before
    assert sum(t.held.writes) + sum(t.events.writes) < 300 * (one_event * 4 // 3 + 300)


def test_held_events_over_the_count_cap_are_decided_at_once_fail_closed(policy, nav):
    h, t = make(policy, Limits(held_max_events=5))
    h.run(*[h.produce(NAV, nav(f"e{i}", "u1", -0.01)) for i in range(8)])
    now = decided(h)
    assert sorted(now) == ["e5", "e6", "e7"]
    for outcomes in now.values():
        assert outcomes["advertising"] == "dropped_hold_overflow"
        assert outcomes["audience_measurement"] == "dropped_hold_overflow"
        assert outcomes["fraud_prevention"] == "kept"  # needs no consent: decided as usual
    assert len(t.events) == 5
    h.tick(advance_s=60)  # the five held ones expire to default deny
    later = decided(h)
    assert len(later) == 8
    assert {later[f"e{i}"]["advertising"] for i in range(5)} == {"dropped_no_consent"}
    assert len(t.events) == 0 and len(t.held) == 0
    counts = h.engine.counts
    assert counts[("navigation", "advertising", "dropped_hold_overflow")] == 3
    assert counts[("navigation", "advertising", "dropped_no_consent")] == 5


def test_held_events_over_the_byte_cap_are_decided_at_once(policy, nav):
    h, t = make(policy, Limits(held_max_bytes=2000))
    msgs = [h.produce(NAV, big_nav(nav, i, "u1", 500)) for i in range(4)]
    size = len(msgs[0].value or b"")
    assert 600 < size < 1000, size  # two fit under the 2000-byte cap
    h.run(*msgs)
    fits = 2000 // size
    assert len(t.events) == fits
    assert len(decided(h)) == 4 - fits
    # Another user is not affected by u1's cap.
    h.run(h.produce(NAV, nav("other", "u2", -0.01)))
    assert "other" not in decided(h)


def test_consent_releases_every_held_event_and_leaves_no_key(policy, nav, consent):
    h, t = make(policy, Limits())
    h.run(*[h.produce(NAV, nav(f"e{i}", "u1", -0.01)) for i in range(20)])
    h.run(h.produce(CON, consent("c1", "u1", 0, advertising=True)))
    outcomes = decided(h)
    assert {outcomes[f"e{i}"]["advertising"] for i in range(20)} == {"kept"}
    assert len(t.events) == 0 and len(t.held) == 0


def test_erasure_removes_every_held_event(policy, nav):
    h, t = make(policy, Limits())
    h.run(*[h.produce(NAV, nav(f"e{i}", "u1", -0.01)) for i in range(10)])
    erase = {"schema": "rights/1", "event_id": "r1", "user_id": "u1",
             "occurred_at": NOW.isoformat(), "right": "erasure"}
    h.run(h.produce(CON, erase))
    assert len(t.events) == 0 and len(t.held) == 0


def test_a_batch_decided_again_after_a_retry_holds_nothing_twice(policy, nav):
    h, t = make(policy, Limits())
    msgs = [h.produce(NAV, nav(f"e{i}", "u1", -0.01)) for i in range(5)]
    h.run(*msgs)
    h.engine.reset()  # as after a transient failure: positions from the committed offsets
    h.run(*msgs)
    assert len(t.events) == 5
    h.tick(advance_s=60)
    assert len([r for r in h.records(DECISIONS) if r["kind"] == "event"]) == 5


def test_events_of_one_user_on_two_partitions_are_all_held(policy, nav):
    # A producer keying by something else than the user id: offsets of two partitions.
    h, t = make(policy, Limits())
    first = [h.produce(NAV, nav(f"a{i}", "u1", -0.01), partition=0) for i in range(3)]
    other = [h.produce(NAV, nav(f"b{i}", "u1", -0.01), partition=1) for i in range(2)]
    h.run(*first, *other)
    assert len(t.events) == 5
    h.tick(advance_s=60)
    assert sorted(decided(h)) == ["a0", "a1", "a2", "b0", "b1"]


def test_held_events_survive_a_restart(policy, nav):
    h, t = make(policy, Limits())
    h.run(*[h.produce(NAV, nav(f"e{i}", f"u{i % 3}", -0.01)) for i in range(9)])
    assert not decided(h)
    again, _ = make(policy, Limits(), t)  # a new worker recovering the same tables
    again.tick(advance_s=60)
    assert sorted(decided(again, h)) == [f"e{i}" for i in range(9)]


def test_partial_expiry_keeps_later_holds_and_their_deadline(policy, nav):
    h, t = make(policy, Limits())
    h.run(h.produce(NAV, nav("e0", "u1", -0.01)))
    h.tick(advance_s=20)
    h.run(h.produce(NAV, nav("e1", "u1", 0.3)))
    h.tick(advance_s=15)  # e0 is due, e1 is not
    assert sorted(decided(h)) == ["e0"]
    h.tick(advance_s=20)
    assert sorted(decided(h)) == ["e0", "e1"]
    assert len(t.events) == 0


# -- consent history and audit ----------------------------------------------------------------


def test_history_cap_keeps_the_latest_changes_and_fails_closed():
    history = PurposeHistory()
    for i in range(100):
        history.set(float(i), i % 2 == 0)  # granted at even seconds
    history.cap(10)
    assert history.times == [float(i) for i in range(90, 100)]
    assert history.as_of(95.5) is False and history.as_of(96.5) is True
    assert history.as_of(50.0) is None  # forgotten: reads "nothing said", never a grant
    assert history.granted_before(50.0)  # but a grant came before: withdrawn, not no-consent


def test_flip_flops_keep_the_consent_value_bounded(policy, consent, nav):
    h, t = make(policy, Limits(history_max=16))
    flips = [
        h.produce(CON, consent(f"c{i}", "u1", -100 + i * 0.01, advertising=i % 2 == 0,
                               audience_measurement=i % 2 == 1))
        for i in range(2000)
    ]
    h.run(*flips)
    state = h.engine.store.state(h.subject("u1"))
    assert state is not None
    assert all(len(p.times) <= 16 for p in state.purposes.values())
    assert max(t.consent.writes) < 1200
    # The latest answer rules: the last flip (i = 1999) denied advertising.
    h.run(h.produce(NAV, nav("after", "u1", -50)))
    assert decided(h)["after"]["advertising"] == "dropped_withdrawn"
    assert decided(h)["after"]["audience_measurement"] == "kept"


def test_rights_audit_keeps_the_latest_requests_and_counts_the_rest(policy):
    h, t = make(policy, Limits(audit_max=50))
    reqs = [
        h.produce(CON, {"schema": "rights/1", "event_id": f"r{i}", "user_id": "u1",
                        "occurred_at": NOW.isoformat(), "right": "access"})
        for i in range(500)
    ]
    h.run(*reqs)
    assert list(t.audit) == [h.subject("u1").handle]  # one trail per user, by handle
    trail = h.engine.store.audit_trail(h.subject("u1"))
    assert len(trail.records) == 50 and trail.omitted == 450
    assert trail.records[-1]["event_id"] == h.ref("r499")  # the keyed ref, never the raw id
    assert [r["event_id"] for r in trail.records] == [h.ref(f"r{i}") for i in range(450, 500)]
    # One small write per request (its entry, then the index), never the whole trail again.
    assert len(t.entries.writes) == 500 and max(t.entries.writes) < 300
    assert max(t.audit.writes) < 100
    assert len(t.entries) == 50


def test_audit_trail_written_as_a_list_before_is_still_read(policy):
    old = [{"right": "access", "n": i} for i in range(5)]
    s = Subject(b"0" * 32, 0)
    store = Store({}, {}, {}, {s.handle: json.dumps(old).encode()}, limits=Limits(audit_max=3))
    assert store.audit(s) == old
    store.append_audit(s, {"right": "erasure"})
    trail = store.audit_trail(s)
    assert [r.get("n") for r in trail.records] == [3, 4, None] and trail.omitted == 3


# -- size bound and permanent failures ----------------------------------------------------------


def test_check_size_refuses_what_the_broker_would():
    check_size("t", b"k", b"v" * 99, 100)
    with pytest.raises(StateTooLarge, match="101 bytes is over the 100-byte bound"):
        check_size("t", b"k", b"v" * 100, 100)


def test_a_record_whose_state_would_not_fit_is_dead_lettered_and_the_rest_go_on(
    policy, consent, nav
):
    h, t = make(policy, Limits(value_max_bytes=150))
    c = h.produce(CON, consent("c1", "u1", -1, advertising=True, audience_measurement=True,
                               personalisation=True, geolocation=True))
    later = h.produce(NAV, nav("e1", "u2", -5))  # u2: no consent, not held (too old)
    h.run(c, later)
    [dead] = h.records(DEAD)
    assert "consent value of" in dead["reason"] and "150-byte bound" in dead["reason"]
    assert dead["offset"] == c.offset
    assert len(t.consent) == 0  # nothing was written
    assert decided(h)["e1"]["advertising"] == "dropped_no_consent"
    assert h.engine.store.state(h.subject("u1")) is None  # the cache holds no half-applied state


def test_consent_state_is_bounded_by_purposes_times_history():
    state = ConsentState()
    for i in range(1000):
        state.apply(float(i), {"advertising": i % 2 == 0, "personalisation": i % 3 == 0})
    state.cap(8)
    assert sum(len(p.times) for p in state.purposes.values()) == 16
