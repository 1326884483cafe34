"""Shared constants and helpers of the keys tests (imported by conftest and the tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import keys
import keys.shred

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

SPECS = [
    keys.PurposeSpec("geolocation", "month", 395),
    keys.PurposeSpec("fraud_prevention", "month", 183),
    keys.PurposeSpec("personalisation", "week", 30),
    keys.PurposeSpec("consent_ledger", "day", 30),
]


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def destroy(ring: keys.Keyring, purpose: str, before: str) -> list[str]:
    """``keys destroy`` as the CLI runs it (file backend: the KEK is retired too)."""
    return keys.shred.destroy(ring, purpose, before).epochs


def expire(ring: keys.Keyring) -> list[str]:
    """``keys expire`` as the CLI and the sink run it."""
    return keys.shred.expire(ring).epochs
