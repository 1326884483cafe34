"""The privacy-pipeline.export/1 document, built from decoded worker state (no Kafka)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec

from pipeline import portability
from processors.state import ConsentState
from schemas.records import Erasure, Held

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = AT.timestamp() - 3600


def _state() -> ConsentState:
    state = ConsentState()
    state.apply(T0, {"audience_measurement": True, "advertising": True})
    state.apply(T0 + 60, {"advertising": False})
    state.object_to(T0 + 120, ["fraud_prevention"])
    return state


def _held() -> list[Held]:
    body = {"schema": "geolocation/1", "occurred_at": "2026-11-26T11:59:50+00:00",
            "user_id": "u-1", "device_id": "dev-9", "lat": 48.8566, "lon": 2.3522}  # fmt: skip
    return [Held("app.geolocation.v1", 0, 7, msgspec.json.encode(body), AT.timestamp() + 30)]


AUDIT = [
    {"right": "erasure", "event_id": "r-2", "at": "2026-11-26T11:30:00+00:00",
     "purposes": [], "outcome": "applied"},
    {"right": "access", "event_id": "r-1", "at": "2026-11-26T11:00:00+00:00",
     "purposes": [], "outcome": "applied", "verified": True},
]  # fmt: skip


def test_active_subject_gets_state_history_held_times_and_requests() -> None:
    doc = portability.document("u-1", AT, _state(), _held(), None, AUDIT[1:])
    assert doc["format"] == "privacy-pipeline.export/1"
    assert doc["status"] == "active" and doc["subject"] == {"user_id": "u-1"}
    ads = doc["consent"]["purposes"]["advertising"]
    assert ads["state"] == "denied"
    assert [h["granted"] for h in ads["history"]] == [True, False]
    assert doc["consent"]["objections"] == {"fraud_prevention": "2026-11-26T11:02:00+00:00"}
    assert doc["held_events"] == {
        "count": 1,
        "events": [{"stream": "geolocation", "occurred_at": "2026-11-26T11:59:50+00:00",
                    "held_until": "2026-11-26T12:00:30+00:00"}],
    }  # fmt: skip
    assert doc["rights_requests"] == [
        {"right": "access", "at": "2026-11-26T11:00:00+00:00", "purposes": [], "outcome": "applied",
         "verified": True}
    ]
    # Held events give times, never their content (no device id, ip or coordinates).
    text = json.dumps(doc)
    assert "dev-9" not in text and "48.8566" not in text and "r-1" not in text


def test_after_erasure_only_the_audit_record_remains() -> None:
    erased = Erasure(AT.timestamp() - 1800)  # applied: no targets left
    doc = portability.document("u-1", AT, None, [], erased, AUDIT)
    assert doc["status"] == "erased"
    assert doc["consent"] is None and doc["held_events"] == {"count": 0, "events": []}
    assert doc["erasure"] == {"requested_at": "2026-11-26T11:30:00+00:00", "applied": True}
    # The worker deletes every other record; the document never shows more, whatever it gets.
    assert [r["right"] for r in doc["rights_requests"]] == ["erasure"]


def test_after_the_tombstone_expired_the_audit_record_still_says_erased() -> None:
    erasures = [r for r in AUDIT if r["right"] == "erasure"]
    doc = portability.document("u-1", AT, None, [], None, erasures)
    assert doc["status"] == "erased" and doc["erasure"] is None
    assert [r["right"] for r in doc["rights_requests"]] == ["erasure"]


def test_pending_erasure_and_nothing_held() -> None:
    pending = Erasure(AT.timestamp(), 0, {"app.navigation.v1": 12})
    assert portability.document("u", AT, _state(), [], pending, [])["status"] == "erasure_pending"
    nothing = portability.document("u", AT, None, [], None, [])
    assert nothing["status"] == "none" and nothing["erasure"] is None


def test_a_held_value_that_is_not_json_still_counts() -> None:
    odd = [Held("app.navigation.v1", 0, 1, b"\xff not json", AT.timestamp())]
    section = portability.held_section(odd)
    assert section["count"] == 1 and section["events"][0]["stream"] == "unknown"
