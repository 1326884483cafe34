"""Consent state: last-writer-wins history, ledger transitions, pruning, serialisation."""

from __future__ import annotations

from processors.decide import Bounds, decide
from processors.state import ConsentState, dumps, loads


def test_transitions_granted_withdrawn_denied() -> None:
    s = ConsentState()
    assert s.apply(100.0, {"advertising": False}) == {"advertising": "denied"}
    assert s.apply(200.0, {"advertising": True}) == {"advertising": "granted"}
    assert s.apply(300.0, {"advertising": True}) == {}  # no change, no transition
    assert s.apply(400.0, {"advertising": False}) == {"advertising": "withdrawn"}
    assert s.apply(500.0, {"advertising": False}) == {}


def test_out_of_order_update_lands_at_its_time() -> None:
    s = ConsentState()
    s.apply(300.0, {"personalisation": True})
    s.apply(100.0, {"personalisation": False})  # older, arrives later
    assert s.as_of("personalisation", 150.0) is False
    assert s.as_of("personalisation", 350.0) is True
    assert s.first_ts == 100.0


def test_prune_keeps_state_in_force_and_grant_memory() -> None:
    s = ConsentState()
    s.apply(10.0, {"geolocation": True})
    s.apply(20.0, {"geolocation": False})
    s.apply(30.0, {"geolocation": False})
    s.apply(900.0, {"geolocation": True})
    s.prune(horizon=500.0)
    h = s.purposes["geolocation"]
    assert h.times == [10.0, 30.0, 900.0]
    assert s.as_of("geolocation", 600.0) is False
    assert s.ever_granted("geolocation", 600.0)


def test_roundtrip_serialisation() -> None:
    s = ConsentState()
    s.apply(1.5, {"advertising": True})
    s.object_to(2.5, ["fraud_prevention"])
    back = loads(dumps(s))
    assert back == s


def test_grace_rule_uses_first_record_only_within_window() -> None:
    s = ConsentState()
    s.apply(1000.0, {"audience_measurement": True})
    b = Bounds(grace_s=30.0)
    assert decide(s, "audience_measurement", True, 975.0, b) == "kept"
    assert decide(s, "audience_measurement", True, 960.0, b) == "dropped_no_consent"
    assert decide(s, "audience_measurement", True, 1001.0, b) == "kept"
    assert decide(None, "fraud_prevention", False, 1.0, b) == "kept"
