"""Pseudonyms: keyed, stable within (purpose, epoch), unlinkable across purposes and epochs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from keys_support import NOW

import keys


def test_stable_within_purpose_and_epoch(ring: keys.Keyring) -> None:
    first = ring.pseudonym("geolocation", "contract-42", NOW.replace(day=1, hour=0))
    later = ring.pseudonym("geolocation", "contract-42", NOW.replace(day=30, hour=23))
    assert first == later
    assert re.fullmatch(r"[0-9a-f]{32}", first)  # 128 bits, text-safe


def test_distinct_users_get_distinct_pseudonyms(ring: keys.Keyring) -> None:
    ids = [f"user-{n}" for n in range(2000)]
    assert len({ring.pseudonym("geolocation", user, NOW) for user in ids}) == len(ids)


def test_different_purposes_are_unlinkable(ring: keys.Keyring) -> None:
    values = {ring.pseudonym(p, "contract-42", NOW)
              for p in ("geolocation", "fraud_prevention", "personalisation", "consent_ledger")}
    assert len(values) == 4


def test_different_epochs_give_different_pseudonyms(ring: keys.Keyring) -> None:
    this_month = ring.pseudonym("geolocation", "contract-42", NOW)
    next_month = ring.pseudonym("geolocation", "contract-42", NOW + timedelta(days=10))
    assert this_month != next_month
    this_week = ring.pseudonym("personalisation", "contract-42", NOW)
    last_week = ring.pseudonym("personalisation", "contract-42", NOW - timedelta(days=7))
    assert this_week != last_week


def test_never_an_unkeyed_hash(ring: keys.Keyring) -> None:
    user = "contract-42"
    value = ring.pseudonym("geolocation", user, NOW)
    for name in ("sha256", "sha1", "md5", "sha512", "blake2b"):
        digest = hashlib.new(name, user.encode()).hexdigest()
        assert value not in digest
    assert user not in value


def test_rotation_does_not_change_pseudonyms(ring: keys.Keyring) -> None:
    before = ring.pseudonym("geolocation", "contract-42", NOW)
    ring.rotate("geolocation")
    assert ring.pseudonym("geolocation", "contract-42", NOW) == before


def test_pseudonym_survives_reopening(
    ring: keys.Keyring, reopen: Callable[..., keys.Keyring]
) -> None:
    assert reopen().pseudonym("geolocation", "u", NOW) == ring.pseudonym("geolocation", "u", NOW)


def test_missing_epoch_or_purpose_fails_closed(ring: keys.Keyring) -> None:
    with pytest.raises(keys.NoKeyForEpoch, match="keys ensure"):
        ring.pseudonym("geolocation", "u", NOW + timedelta(days=120))
    with pytest.raises(keys.NoKeyForEpoch):
        ring.pseudonym("advertising", "u", NOW)


def test_an_event_s_own_utc_offset_picks_the_epoch_of_its_utc_time(ring: keys.Keyring) -> None:
    # Slots are found by POSIX seconds (keys.state.Slot): an offset time must not be read
    # as if it were UTC, whatever epoch the previous lookup used.
    paris = timezone(timedelta(hours=1))
    next_day = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    late_evening = datetime(2026, 11, 27, 0, 30, tzinfo=paris)  # 2026-11-26 23:30 UTC
    ledger = "consent_ledger"  # daily epochs
    tomorrow = ring.pseudonym(ledger, "u", next_day)
    assert ring.epoch_of(ledger, late_evening) == "2026-11-26"
    today = ring.pseudonym(ledger, "u", late_evening)
    assert today == ring.pseudonym(ledger, "u", datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
    assert today != tomorrow
    assert ring.pseudonym(ledger, "u", datetime(2026, 11, 27, 0, 0, tzinfo=UTC)) == tomorrow
