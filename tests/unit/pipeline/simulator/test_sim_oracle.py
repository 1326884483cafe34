"""The oracle on hand-made scenarios: one test per rule of the consent semantics."""

from __future__ import annotations

from datetime import timedelta

from simkit import NOW, T0, consent, decisions, geo, nav, oracle, rights, s

from pipeline.simulator.tcfstring import CoreSegment, encode

ALL_GRANTED = {"audience_measurement": True, "personalisation": True, "advertising": True}
CONSENT_PURPOSES = ("audience_measurement", "personalisation", "advertising")


def test_default_deny_without_any_record() -> None:
    [out] = decisions(nav("u1", s(0)))
    assert out == {
        "audience_measurement": "dropped_no_consent",
        "personalisation": "dropped_no_consent",
        "advertising": "dropped_no_consent",
        "fraud_prevention": "kept",
    }


def test_geolocation_stream_has_its_own_purposes() -> None:
    [out] = decisions(consent("u1", s(0), {"geolocation": True}), geo("u1", s(60)))
    assert out == {"geolocation": "kept", "fraud_prevention": "kept"}


def test_granted_purposes_only_are_kept() -> None:
    [out] = decisions(
        consent("u1", s(0), {"audience_measurement": True, "advertising": False}),
        nav("u1", s(60)),
    )
    assert out["audience_measurement"] == "kept"
    assert out["advertising"] == "dropped_no_consent"
    assert out["personalisation"] == "dropped_no_consent"


def test_consent_of_another_user_does_not_apply() -> None:
    [out] = decisions(consent("u2", s(0), ALL_GRANTED), nav("u1", s(60)))
    assert out["audience_measurement"] == "dropped_no_consent"


def test_last_writer_wins_by_occurred_at_not_arrival() -> None:
    # The later answer (deny at 200 s) arrives first; the grant (100 s) arrives after it.
    outs = decisions(
        consent("u1", s(200), {"advertising": False}),
        consent("u1", s(100), {"advertising": True}),
        nav("u1", s(150)),
        nav("u1", s(250)),
    )
    assert [o["advertising"] for o in outs] == ["kept", "dropped_withdrawn"]


def test_ledger_transitions_follow_occurred_at_order() -> None:
    o = oracle(
        consent("u1", s(200), {"advertising": False}),
        consent("u1", s(100), {"advertising": True}),
    )
    [book] = o.books.values()
    assert [(t.at, t.purpose, t.kind) for t in book.transitions] == [
        (s(100), "advertising", "granted"),
        (s(200), "advertising", "withdrawn"),
    ]


def test_withdrawal_stops_later_events_only() -> None:
    outs = decisions(
        consent("u1", s(0), ALL_GRANTED),
        nav("u1", s(50)),
        consent("u1", s(100), {"personalisation": False}),
        nav("u1", s(100)),
        nav("u1", s(150)),
    )
    assert [o["personalisation"] for o in outs] == [
        "kept",
        "dropped_withdrawn",
        "dropped_withdrawn",
    ]
    assert [o["audience_measurement"] for o in outs] == ["kept"] * 3


def test_regrant_after_withdrawal_is_kept_again() -> None:
    outs = decisions(
        consent("u1", s(0), {"advertising": True}),
        consent("u1", s(10), {"advertising": False}),
        consent("u1", s(20), {"advertising": True}),
        nav("u1", s(15)),
        nav("u1", s(25)),
    )
    assert [o["advertising"] for o in outs] == ["dropped_withdrawn", "kept"]


def test_grace_window_uses_the_first_answer_within_30_s() -> None:
    outs = decisions(
        nav("u1", s(0)),
        nav("u1", s(-0.001)),  # 30.001 s before the answer: outside
        consent("u1", s(30), {"audience_measurement": True}),
    )
    assert [o["audience_measurement"] for o in outs] == ["kept", "dropped_no_consent"]
    assert outs[0]["personalisation"] == "dropped_no_consent"  # first answer's state only


def test_grace_window_needs_no_record_at_all_before_the_event() -> None:
    outs = decisions(
        consent("u1", s(-100), {"advertising": False}),
        nav("u1", s(0)),
        consent("u1", s(10), {"audience_measurement": True}),
    )
    assert outs[0]["audience_measurement"] == "dropped_no_consent"


def test_grace_window_only_looks_at_the_first_answer() -> None:
    outs = decisions(
        nav("u1", s(0)),
        consent("u1", s(5), {"advertising": False}),
        consent("u1", s(10), {"audience_measurement": True}),
    )
    assert outs[0]["audience_measurement"] == "dropped_no_consent"


def test_answer_at_the_same_instant_applies_directly() -> None:
    [out] = decisions(consent("u1", s(0), {"audience_measurement": True}), nav("u1", s(0)))
    assert out["audience_measurement"] == "kept"


def test_objection_drops_fraud_prevention_from_its_time() -> None:
    outs = decisions(
        nav("u1", s(0)),
        rights("u1", s(100), "objection", ["fraud_prevention"]),
        nav("u1", s(100)),
        geo("u1", s(200)),
    )
    assert [o["fraud_prevention"] for o in outs] == [
        "kept",
        "dropped_objection",
        "dropped_objection",
    ]


def test_objection_without_purposes_covers_every_objectable_one() -> None:
    outs = decisions(rights("u1", s(0), "objection"), nav("u1", s(10)))
    assert outs[0]["fraud_prevention"] == "dropped_objection"


def test_objection_with_an_empty_list_covers_every_objectable_one() -> None:
    outs = decisions(rights("u1", s(0), "objection", []), nav("u1", s(10)))
    assert outs[0]["fraud_prevention"] == "dropped_objection"


def test_consent_answers_do_not_switch_purposes_that_need_no_consent() -> None:
    o = oracle(consent("u1", s(0), {"fraud_prevention": False}), nav("u1", s(10)))
    assert o.outcomes(o.valid[1])["fraud_prevention"] == "kept"
    [book] = o.books.values()
    assert book.transitions == [] and book.unknown_purposes == 0


def test_objection_to_a_consent_purpose_is_ignored() -> None:
    outs = decisions(
        consent("u1", s(0), {"advertising": True}),
        rights("u1", s(5), "objection", ["advertising"]),
        nav("u1", s(10)),
    )
    assert outs[0]["advertising"] == "kept"
    assert outs[0]["fraud_prevention"] == "kept"


def test_access_requests_change_nothing() -> None:
    outs = decisions(
        consent("u1", s(0), {"advertising": True}),
        rights("u1", s(5), "access"),
        rights("u1", s(6), "portability"),
        nav("u1", s(10)),
    )
    assert outs[0]["advertising"] == "kept"


def test_erasure_resets_consent_and_objections() -> None:
    outs = decisions(
        consent("u1", s(0), ALL_GRANTED),
        rights("u1", s(1), "objection"),
        nav("u1", s(10)),
        rights("u1", s(100), "erasure"),
        nav("u1", s(200)),
    )
    assert outs[0]["advertising"] == "kept"
    assert outs[0]["fraud_prevention"] == "dropped_objection"
    # After the erasure: as if never seen (no consent, not withdrawn; objection gone).
    assert outs[1]["advertising"] == "dropped_no_consent"
    assert outs[1]["fraud_prevention"] == "kept"


def test_after_erasure_a_new_first_answer_gets_the_grace_window() -> None:
    outs = decisions(
        consent("u1", s(0), ALL_GRANTED),
        rights("u1", s(100), "erasure"),
        nav("u1", s(200)),
        consent("u1", s(210), {"audience_measurement": True}),
        nav("u1", s(300)),
    )
    assert [o["audience_measurement"] for o in outs] == ["kept", "kept"]
    assert [o["advertising"] for o in outs] == ["dropped_no_consent", "dropped_no_consent"]


def test_erasure_ledger_starts_fresh() -> None:
    o = oracle(
        consent("u1", s(0), {"advertising": True}),
        rights("u1", s(100), "erasure"),
        consent("u1", s(200), {"advertising": False}),
    )
    [book] = o.books.values()
    assert [t.kind for t in book.transitions] == ["granted", "denied"]


def test_event_produced_after_the_erasure_that_follows_it_is_dropped_erased() -> None:
    outs = decisions(
        consent("u1", s(0), ALL_GRANTED),
        rights("u1", s(100), "erasure"),
        nav("u1", s(50)),  # occurred before the erasure, produced after it
    )
    assert set(outs[0].values()) == {"dropped_erased"}


def test_gpc_denies_advertising_even_if_granted_in_the_same_answer() -> None:
    o = oracle(consent("u1", s(0), ALL_GRANTED, gpc=True), nav("u1", s(10)))
    [out] = [o.outcomes(ev) for ev in o.valid if ev.stream == "navigation"]
    assert out["advertising"] == "dropped_no_consent"
    assert out["audience_measurement"] == "kept"
    [book] = o.books.values()
    assert ("advertising", "denied") in [(t.purpose, t.kind) for t in book.transitions]


def test_gpc_withdraws_an_earlier_grant() -> None:
    outs = decisions(
        consent("u1", s(0), {"advertising": True}),
        consent("u1", s(50), {}, gpc=True),
        nav("u1", s(60)),
    )
    assert outs[0]["advertising"] == "dropped_withdrawn"


def _tc(*consents: int, version: int = 4) -> str:
    return encode(CoreSegment(frozenset(consents), T0, policy_version=version))


def test_tcf_grants_a_purpose_only_when_all_its_tcf_purposes_are_consented() -> None:
    outs = decisions(consent("u1", s(0), {}, tcf=_tc(1, 8, 9, 5)), nav("u1", s(10)))
    assert outs[0]["audience_measurement"] == "kept"
    assert outs[0]["personalisation"] == "dropped_no_consent"  # 6 missing
    assert outs[0]["advertising"] == "dropped_no_consent"


def test_explicit_purposes_apply_after_the_tc_string() -> None:
    everything = _tc(*range(1, 12))
    outs = decisions(consent("u1", s(0), {"advertising": False}, tcf=everything), nav("u1", s(9)))
    assert outs[0]["advertising"] == "dropped_no_consent"
    assert outs[0]["personalisation"] == "kept"


def test_tc_string_below_the_minimum_policy_version_is_ignored() -> None:
    outs = decisions(consent("u1", s(0), {}, tcf=_tc(*range(1, 12), version=2)), nav("u1", s(9)))
    assert outs[0]["audience_measurement"] == "dropped_no_consent"


def test_unreadable_tc_string_is_ignored_but_explicit_purposes_apply() -> None:
    outs = decisions(consent("u1", s(0), {"advertising": True}, tcf="AAAA"), nav("u1", s(9)))
    assert outs[0]["advertising"] == "kept"
    assert outs[0]["audience_measurement"] == "dropped_no_consent"


def test_unknown_purposes_are_ignored_and_counted() -> None:
    o = oracle(consent("u1", s(0), {"partner_offers": True, "advertising": True}), nav("u1", s(1)))
    assert o.summary()["unknown_purposes"] == 1
    assert o.outcomes(o.valid[1])["advertising"] == "kept"


def test_late_and_future_events_are_dropped_for_every_purpose() -> None:
    late = NOW - timedelta(days=7, seconds=1)
    edge = NOW - timedelta(days=7)
    outs = decisions(
        consent("u1", late - timedelta(seconds=5), ALL_GRANTED),
        nav("u1", late),
        nav("u1", edge),
        nav("u1", NOW + timedelta(minutes=5, seconds=1)),
        nav("u1", NOW + timedelta(minutes=5)),
    )
    assert set(outs[0].values()) == {"dropped_late"}
    assert outs[1]["advertising"] == "kept"
    assert set(outs[2].values()) == {"dropped_future"}
    assert outs[3]["advertising"] == "kept"


def test_missing_key_fails_closed() -> None:
    outs = decisions(
        consent("u1", s(0), ALL_GRANTED),
        nav("u1", s(10)),
        has_key=lambda purpose, at: purpose != "advertising",
    )
    assert outs[0]["advertising"] == "dropped_no_key"
    assert outs[0]["audience_measurement"] == "kept"


def test_decision_counts_in_the_summary() -> None:
    o = oracle(consent("u1", s(0), {"advertising": True}), nav("u1", s(1)), nav("u2", s(1)))
    got = o.summary()["decisions"]
    assert got["advertising"] == {"dropped_no_consent": 1, "kept": 1}
    assert got["fraud_prevention"] == {"kept": 2}
    assert all(p in got for p in CONSENT_PURPOSES)
