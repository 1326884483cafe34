"""The consent ledger says, per transition, whether the collector verified the subject."""

from __future__ import annotations

import dataclasses

from processors.messages import subject_verified

CON = "privacy.consent.v1"


def test_the_verified_flag_reaches_transitions_state_and_rights_audit(harness, consent):
    verified = dataclasses.replace(
        harness.produce(CON, consent("c1", "u1", -20, audience_measurement=True)), verified=True
    )
    plain = harness.produce(CON, consent("c2", "u2", -20, audience_measurement=True))
    rights = dataclasses.replace(harness.produce(CON, {
        "schema": "rights/1", "event_id": "r1", "user_id": "u1",
        "occurred_at": "2026-11-26T09:59:00Z", "right": "access"}), verified=True)
    harness.run(verified, plain, rights)
    raw = harness.raw_ids()  # decisions carry keyed ids
    transitions = {raw[r["event_id"]]: r["verified"]
                   for r in harness.records(harness.names.decisions) if r["kind"] == "consent"}
    assert transitions == {"c1": True, "c2": False}
    store = harness.engine.store
    assert store.state(harness.subject("u1")).verified == {"audience_measurement": True}
    assert store.state(harness.subject("u2")).verified == {"audience_measurement": False}
    audits = [r for u in ("u1", "u2") for r in store.audit(harness.subject(u))]
    assert [(a["event_id"], a["verified"]) for a in audits] == [(harness.ref("r1"), True)]


def test_only_the_exact_header_value_counts_as_verified():
    assert subject_verified([("pp-subject-verified", b"1")])
    assert subject_verified({"pp-subject-verified": b"1"})
    for headers in (None, [], [("pp-subject-verified", b"0")], [("pp-subject-verified", b"yes")],
                    [("x-pp-subject-verified", b"1")]):
        assert not subject_verified(headers)
