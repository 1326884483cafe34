"""Consent semantics of the engine, rule by rule (DESIGN.md section 6)."""

from __future__ import annotations

import json

from tests.unit.processors.conftest import APP, at

NAV = "app.navigation.v1"
GEO = "app.geolocation.v1"
CON = "privacy.consent.v1"


def test_default_deny_without_any_consent(harness, nav):
    # Older than the grace window: decided at once, nothing was ever granted.
    harness.run(harness.produce(NAV, nav("e1", "u1", -10)))
    outcomes = harness.outcomes("e1")
    assert outcomes["audience_measurement"] == "dropped_no_consent"
    assert outcomes["advertising"] == "dropped_no_consent"
    assert outcomes["fraud_prevention"] == "kept"  # legitimate interest, no consent needed
    assert harness.records("sanitized.audience_measurement.v1") == []


def test_granted_purpose_is_kept_and_pseudonymised(harness, nav, consent):
    c = harness.produce(CON, consent("c1", "u1", -20, audience_measurement=True))
    e = harness.produce(NAV, nav("e1", "u1", -10, screen="contracts?id=123"))
    harness.run(c, e)
    assert harness.outcomes("e1")["audience_measurement"] == "kept"
    assert harness.outcomes("e1")["personalisation"] == "dropped_no_consent"
    [rec] = harness.records("sanitized.audience_measurement.v1")
    assert rec["screen"] == "contracts"  # query string never kept
    assert rec["pseudonym"] and rec["pseudonym"] != "u1"
    assert rec["hour"] == "2026-11-26T11:00:00Z"


def test_consent_fence_reads_consent_not_yet_delivered(harness, nav, consent):
    # The grant was acknowledged before the event but the stream delivers the event first.
    harness.produce(CON, consent("c1", "u1", -20, audience_measurement=True))
    e = harness.produce(NAV, nav("e1", "u1", -10))
    harness.run(e)
    assert harness.outcomes("e1")["audience_measurement"] == "kept"


def test_withdrawal_race_never_contributes(harness, nav, consent):
    grant = harness.produce(CON, consent("c1", "u1", -30, audience_measurement=True))
    before = harness.produce(NAV, nav("e1", "u1", -20))
    harness.run(grant, before)
    harness.produce(CON, consent("c2", "u1", -15, audience_measurement=False))
    after = harness.produce(NAV, nav("e2", "u1", -10))
    harness.run(after)  # the withdrawal is only reachable through the fence
    assert harness.outcomes("e1")["audience_measurement"] == "kept"
    assert harness.outcomes("e2")["audience_measurement"] == "dropped_withdrawn"


def test_out_of_order_consent_is_last_writer_wins_by_occurred_at(harness, nav, consent):
    late_grant = harness.produce(CON, consent("c2", "u1", -5, advertising=True))
    early_deny = harness.produce(CON, consent("c1", "u1", -30, advertising=False))
    e_mid = harness.produce(NAV, nav("e1", "u1", -10))
    e_end = harness.produce(NAV, nav("e2", "u1", -1))
    harness.run(late_grant, early_deny, e_mid, e_end)
    assert harness.outcomes("e1")["advertising"] == "dropped_no_consent"
    assert harness.outcomes("e2")["advertising"] == "kept"


def test_grace_window_holds_until_first_consent(harness, nav, consent):
    e = harness.produce(NAV, nav("e1", "u1", -0.1))  # 6 s ago, no consent record yet
    harness.run(e)
    decisions = harness.records("pipeline.decisions.v1")
    assert not [r for r in decisions if r.get("event_id") == harness.ref("e1")]
    c = harness.produce(CON, consent("c1", "u1", 0, audience_measurement=True))
    harness.run(c)
    assert harness.outcomes("e1")["audience_measurement"] == "kept"


def test_grace_window_expires_to_default_deny(harness, nav):
    harness.run(harness.produce(NAV, nav("e1", "u1", 0)))
    harness.tick(advance_s=10)
    decisions = harness.records("pipeline.decisions.v1")
    assert not [r for r in decisions if r.get("event_id") == harness.ref("e1")]
    harness.tick(advance_s=25)
    assert harness.outcomes("e1")["audience_measurement"] == "dropped_no_consent"


def test_grace_expiry_applies_consent_acknowledged_before_it(harness, nav, consent):
    # A worker restarted after the deadline: the answer is in the consent topic but the
    # stream has not delivered it yet. The expiry reads it first and decides by it.
    harness.run(harness.produce(NAV, nav("e1", "u1", 0)))
    harness.produce(CON, consent("c1", "u1", 0.1, audience_measurement=True))
    harness.tick(advance_s=60)
    assert harness.outcomes("e1")["audience_measurement"] == "kept"


def test_late_and_future_events_are_rejected_with_reason(harness, nav):
    harness.run(
        harness.produce(NAV, nav("old", "u1", -8 * 24 * 60)),
        harness.produce(NAV, nav("fut", "u1", 10)),
    )
    assert set(harness.outcomes("old").values()) == {"dropped_late"}
    assert set(harness.outcomes("fut").values()) == {"dropped_future"}


def test_gpc_denies_advertising(harness, nav, consent):
    c = harness.produce(CON, consent("c1", "u1", -20, advertising=True, _extra={"gpc": True}))
    e = harness.produce(NAV, nav("e1", "u1", -10))
    harness.run(c, e)
    assert harness.outcomes("e1")["advertising"] == "dropped_no_consent"


def test_objection_denies_legitimate_interest(harness, nav):
    r = harness.produce(
        CON,
        {
            "schema": "rights/1",
            "event_id": "r1",
            "user_id": "u1",
            "occurred_at": at(-20),
            "right": "objection",
        },
    )
    e = harness.produce(NAV, nav("e1", "u1", -10))
    harness.run(r, e)
    assert harness.outcomes("e1")["fraud_prevention"] == "dropped_objection"


def test_erasure_waits_for_earlier_events_then_forgets(harness, nav, consent):
    c = harness.produce(CON, consent("c1", "u1", -30, audience_measurement=True))
    harness.run(c)
    e1 = harness.produce(NAV, nav("e1", "u1", -20))  # acknowledged before the erasure
    er = harness.produce(CON, {"schema": "rights/1", "event_id": "r1", "user_id": "u1",
                               "occurred_at": at(-15), "right": "erasure"})
    harness.run(er)  # the erasure arrives first: it waits for e1
    assert harness.engine.store.state(harness.subject("u1")) is not None
    late = harness.produce(NAV, nav("e0", "u1", -25))  # occurred before, acknowledged after
    after = harness.produce(NAV, nav("e2", "u1", -10))
    harness.run(e1, late, after)
    assert harness.outcomes("e1")["audience_measurement"] == "kept"
    assert set(harness.outcomes("e0").values()) == {"dropped_erased"}
    assert harness.outcomes("e2")["audience_measurement"] == "dropped_no_consent"
    # Decided, not yet committed: a rebalance would have e1 decided again, from this state.
    assert harness.engine.store.state(harness.subject("u1")) is not None
    harness.commit()
    harness.tick()
    assert harness.engine.store.state(harness.subject("u1")) is None
    assert harness.engine.store.erasure(harness.subject("u1")).targets == {}


def test_pending_erasure_survives_a_restart(harness, nav, consent):
    from processors.engine import Engine

    harness.run(harness.produce(CON, consent("c1", "u1", -30, audience_measurement=True)))
    e1 = harness.produce(NAV, nav("e1", "u1", -20))
    harness.run(harness.produce(CON, {"schema": "rights/1", "event_id": "r1", "user_id": "u1",
                                      "occurred_at": at(-15), "right": "erasure"}))
    old = harness.engine
    # a new process (same tables and subject keys)
    harness.engine = Engine(old.rt, old.store, old.outbox, old.fence, old.subject_keys)
    harness.run(e1)
    assert harness.outcomes("e1")["audience_measurement"] == "kept"
    harness.commit()
    harness.tick()
    assert harness.engine.store.state(harness.subject("u1")) is None


def test_invalid_input_goes_to_dead_letter_with_reason(harness):
    harness.run(
        harness.produce(NAV, b"{not json"),
        harness.produce(NAV, json.dumps({"schema": "navigation/1"}).encode()),
    )
    dead = harness.records("pipeline.deadletter.v1")
    assert len(dead) == 2
    assert all(d["reason"] and d["topic"] == NAV for d in dead)
    invalid = [r for r in harness.records("pipeline.decisions.v1") if r["kind"] == "invalid"]
    assert {r["source"] for r in invalid} == {f"{NAV}:0:0", f"{NAV}:0:1"}


def test_health_screens_generalised_and_no_raw_identifier_in_outputs(harness, nav, consent):
    c = harness.produce(
        CON,
        consent(
            "c1",
            "user-4242",
            -30,
            audience_measurement=True,
            personalisation=True,
            geolocation=True,
        ),
    )
    e = harness.produce(
        NAV,
        nav(
            "e1", "user-4242", -10, screen="health-care-quote", device_id="dev-777", ip="192.0.2.7"
        ),
    )
    g = harness.produce(
        GEO,
        {
            "schema": "geolocation/1",
            "event_id": "g1",
            "user_id": "user-4242",
            "occurred_at": at(-9),
            "app": APP,
            "lat": 48.85661,
            "lon": 2.35222,
            "device_id": "dev-777",
            "ip": "192.0.2.7",
        },
    )
    harness.run(c, e, g)
    [am] = harness.records("sanitized.audience_measurement.v1")
    assert am["screen"] == "health"
    [geo] = harness.records("sanitized.geolocation.v1")
    assert geo["cell"] and len(geo["cell"]) == 5 and geo["enc"]["coords"]
    everything = b"".join(v for _, _, v in harness.sent)
    for raw in (b"user-4242", b"dev-777", b"192.0.2.7", b"48.85661", b"2.35222"):
        assert raw not in everything


def test_unknown_consent_purpose_is_ignored_and_counted(harness, consent):
    harness.run(harness.produce(CON, consent("c1", "u1", -5, telepathy=True)))
    assert harness.outcomes("c1") == {"unknown": "ignored_unknown_purpose"}


def test_no_live_key_drops_fail_closed_before_consent(harness, nav, consent):
    from keys.exceptions import NoKeyForEpoch

    ring = harness.engine.rt.ring
    real = ring.pseudonym

    def pseudonym(purpose, user_id, at):
        if purpose == "advertising":
            raise NoKeyForEpoch("destroyed")
        return real(purpose, user_id, at)

    ring.pseudonym = pseudonym
    c = harness.produce(CON, consent("c1", "u1", -20, advertising=True, audience_measurement=True))
    e = harness.produce(NAV, nav("e1", "u1", -10))
    f = harness.produce(NAV, nav("e2", "u2", -10))  # no consent at all
    harness.run(c, e, f)
    assert harness.outcomes("e1")["advertising"] == "dropped_no_key"
    assert harness.outcomes("e1")["audience_measurement"] == "kept"
    assert harness.outcomes("e2")["advertising"] == "dropped_no_key"
    assert harness.records("sanitized.advertising.v1") == []


def _decided(harness) -> list[str]:
    decisions = harness.records("pipeline.decisions.v1")
    raw = {harness.ref(f"e{i}"): f"e{i}" for i in range(10)}  # decisions carry keyed ids
    return [raw[r["event_id"]] for r in decisions
            if r["kind"] == "event" and r["stream"] != "consent"]


def test_records_the_stream_skipped_are_read_directly(harness, nav, consent):
    # faust can drop records fetched across a rebalance and deliver later ones: the hole is
    # read from Kafka, in order, before the records after it.
    harness.run(harness.produce(CON, consent("c1", "u1", -30, audience_measurement=True)))
    e1, _e2, e3 = (harness.produce(NAV, nav(f"e{i}", "u1", -20 + i)) for i in (1, 2, 3))
    harness.run(e1, e3)
    assert _decided(harness) == ["e1", "e2", "e3"]
    assert harness.fence.reads[-1] == (NAV, 0, 0, 3)


def test_a_stale_record_ahead_then_the_records_before_it_decide_each_once(harness, nav):
    e1, e2, e3 = (harness.produce(NAV, nav(f"e{i}", "u1", -20 + i)) for i in (1, 2, 3))
    harness.run(e3)  # delivered ahead of its predecessors (a stale fetch)
    harness.run(e1, e2, e3)  # the stream delivers them again from the committed offset
    assert _decided(harness) == ["e1", "e2", "e3"]


def test_records_below_the_committed_offset_were_decided_by_the_group(harness, nav):
    e0, e1, e2 = (harness.produce(NAV, nav(f"e{i}", "u1", -20 + i)) for i in (0, 1, 2))
    harness.fence.commits[(NAV, 0)] = 2  # another worker decided e0 and e1 and committed
    harness.run(e0, e1, e2)
    assert _decided(harness) == ["e2"]
    assert harness.fence.reads == []


def test_consent_the_stream_skipped_is_applied_before_later_events(harness, nav, consent):
    c1 = harness.produce(CON, consent("c1", "u1", -30, audience_measurement=True))
    c2 = harness.produce(CON, consent("c2", "u1", -25, audience_measurement=False))
    c3 = harness.produce(CON, consent("c3", "u2", -25, audience_measurement=True))
    harness.run(c1, c3)  # the withdrawal c2 was dropped by the stream
    harness.run(harness.produce(NAV, nav("e1", "u1", -20)))
    assert harness.outcomes("e1")["audience_measurement"] == "dropped_withdrawn"
    assert c2.offset == 1
