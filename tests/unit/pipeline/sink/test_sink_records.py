"""What the processors encode, the sink decodes: the same types, equal fields."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import msgspec

from pipeline.policy import load_policy
from pipeline.sink.decode import decode_decisions, decode_sanitized
from processors.outbox import encode_groups
from processors.records import Recall, sanitize, shared_of
from schemas.events import Geolocation, Navigation
from schemas.records import Decision, DecisionMessage, Sanitized, SanitizedMessage
from schemas.validator import decode_obj

AT = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
APP = {"name": "mm-app", "platform": "ios", "version": "1.0"}


class Ring:
    """Keyed pseudonyms and opaque tokens, as the processors' keyring gives them."""

    def pseudonym(self, purpose: str, user_id: str, at: datetime) -> str:
        return hmac.new(purpose.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:32]

    def epoch_of(self, purpose: str, at: datetime) -> str:
        return at.strftime("%Y-%m")

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str:
        return "tok-" + hashlib.sha256(plaintext).hexdigest()


def _records() -> list[Sanitized]:
    policy, ring = load_policy(None), Ring()
    nav = decode_obj({"schema": "navigation/1", "event_id": "n1", "user_id": "u1",
                      "occurred_at": AT.isoformat(), "app": APP, "type": "screen_view",
                      "screen": "contracts?id=3", "campaign": "winter", "ip": "10.0.0.1",
                      "device_id": "d1"})
    geo = decode_obj({"schema": "geolocation/1", "event_id": "g1", "user_id": "u1",
                      "occurred_at": AT.isoformat(), "app": APP, "lat": 48.85, "lon": 2.35,
                      "accuracy_m": 10.0, "device_id": "d1", "ip": "10.0.0.1"})
    out: list[Sanitized] = []
    recall = Recall(ring)
    for event in (nav, geo):
        assert isinstance(event, Navigation | Geolocation)
        stream = "navigation" if event is nav else "geolocation"
        for purpose in policy.purposes.values():
            if purpose.applies_to(stream):
                out.append(sanitize(event, purpose, policy, ring, False,
                                    shared_of(event, policy), None, recall))
    return out


def _values(records: list[Any]) -> list[bytes]:
    return list(encode_groups(records, max_records=3, max_bytes=900 * 1024))


def test_sanitized_records_decode_in_the_sink_as_the_same_type_with_equal_fields() -> None:
    records = _records()
    assert {r.stream for r in records} == {"navigation", "geolocation"}
    assert any(r.enc for r in records)  # encrypted fields travel too
    values = _values(records)
    decoded = [r for v in values for r in msgspec.json.decode(v, type=SanitizedMessage).records
               or ()]
    assert decoded == records
    assert all(type(r) is Sanitized for r in decoded)
    table, rejected = decode_sanitized(values, ["t"] * len(values), ["p"] * len(values))
    assert rejected == {}
    rows = table.to_pylist()
    for row, record in zip(rows, records, strict=True):
        assert {k: v for k, v in row.items() if k not in ("topic", "purpose")} == {
            k: getattr(record, k) for k in row if k not in ("topic", "purpose")}


def test_decisions_of_every_kind_decode_in_the_sink_with_equal_fields() -> None:
    records = [
        Decision.event("r1", "navigation", "2026-11-26", {"advertising": "kept",
                                                         "personalisation": "dropped_late"}),
        Decision.event(None, "geolocation", "2026-11-25", {"geolocation": "dropped_no_key"}),
        Decision.consent("r2", "advertising", "2026-11-26", "withdrawn", "S1", True),
        Decision.invalid("app.navigation.v1:2:7#1", "navigation", "2026-11-26", "not JSON"),
    ]
    values = _values(records)
    decoded = [r for v in values for r in msgspec.json.decode(v, type=DecisionMessage).records
               or ()]
    assert decoded == records
    table, rejected = decode_decisions(values)
    assert rejected == 0
    for row, record in zip(table.to_pylist(), records, strict=True):
        outcomes = row.pop("outcomes")
        assert (dict(outcomes) if outcomes is not None else None) == record.outcomes
        assert row == {k: getattr(record, k) for k in row}
