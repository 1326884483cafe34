"""Coarse times of the privacy-safe records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from pipeline.policy import Purpose, load_policy
from processors.records import Recall, day_of, hour_of, sanitize
from schemas.events import Navigation
from schemas.validator import decode_obj

_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_TIMES = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=_OFFSETS
)


@given(_TIMES)
def test_hour_and_day_are_the_utc_hour_and_day(at: datetime) -> None:
    utc = at.astimezone(UTC)
    assert hour_of(at) == utc.strftime("%Y-%m-%dT%H:00:00Z")
    assert day_of(at) == utc.strftime("%Y-%m-%d")


def test_the_last_microsecond_of_an_hour_stays_in_it() -> None:
    at = datetime(2026, 11, 26, 22, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-1)))
    assert hour_of(at) == "2026-11-26T23:00:00Z"
    assert day_of(at) == "2026-11-26"


class _CountingRing:
    """Keyed-looking pseudonyms; counts every keyring call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def pseudonym(self, purpose: str, user_id: str, at: datetime) -> str:
        self.calls.append(("pseudonym", user_id))
        return f"P({purpose},{user_id})"

    def epoch_of(self, purpose: str, at: datetime) -> str:
        self.calls.append(("epoch", purpose))
        return "2026-11"

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str:
        self.calls.append(("encrypt", field))
        return f"E({field})"


def _nav(event_id: str, minute: int) -> Navigation:
    event = decode_obj({
        "schema": "navigation/1", "event_id": event_id, "user_id": "u1",
        "occurred_at": f"2026-11-26T10:{minute:02d}:00+00:00", "type": "screen_view",
        "screen": "home", "app": {"name": "mm", "platform": "ios", "version": "1"},
        "device_id": "d1", "session_id": "s1", "ip": "10.0.0.1"})
    assert isinstance(event, Navigation)
    return event


def _purpose(**fields: str) -> Purpose:
    base = load_policy(None).purposes["fraud_prevention"]
    return dataclasses.replace(base, fields={**base.fields, **fields})


def test_a_purpose_plan_pseudonymises_and_encrypts_the_fields_it_names() -> None:
    purpose = _purpose(user_id="pseudonymise", device_id="pseudonymise", session_id="drop",
                       ip="encrypt")
    record = sanitize(_nav("e1", 1), purpose, load_policy(None), _CountingRing())
    assert record.pseudonym == "P(fraud_prevention,u1)"
    assert record.pseudo == {"device_id": "P(fraud_prevention,device_id\x00d1)"}
    assert record.enc == {"ip": "E(ip)"}
    anonymous = sanitize(_nav("e1", 1), purpose, load_policy(None), _CountingRing(), True)
    assert (anonymous.pseudonym, anonymous.pseudo, anonymous.enc) == (None, msgspec.UNSET, {})


def test_pseudonyms_and_epochs_are_computed_once_per_user_purpose_and_day_per_batch() -> None:
    ring, policy = _CountingRing(), load_policy(None)
    purpose = _purpose(user_id="pseudonymise", device_id="pseudonymise")
    recall = Recall(ring)
    for i in range(3):
        sanitize(_nav(f"e{i}", i), purpose, policy, ring, recall=recall)
    assert ring.calls.count(("pseudonym", "u1")) == 1
    assert ring.calls.count(("epoch", "fraud_prevention")) == 1
    assert sum(1 for kind, v in ring.calls if v.startswith("event_id")) == 3  # one per event
    recall.clear()  # a new batch asks the keyring again
    sanitize(_nav("e9", 9), purpose, policy, ring, recall=recall)
    assert ring.calls.count(("pseudonym", "u1")) == 2
