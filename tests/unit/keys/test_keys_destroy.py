"""Destroy and expire: data under destroyed epochs becomes unreadable, for good."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from keys_support import NOW, SPECS, FakeClock, destroy, expire

import keys
from keys import storage
from keys.ops import key_context
from pipeline.settings import Settings

MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07",
          "2026-08", "2026-09", "2026-10", "2026-11"]


def _year_of_data(config: Settings, clock: FakeClock) -> tuple[keys.Keyring, dict[str, str]]:
    """A keyring run monthly from January to November 2026 with one token per month."""
    clock.now = NOW.replace(month=1, day=15)
    ring, _ = keys.init_keyring(config, SPECS, clock=clock)
    tokens = {}
    for month in range(1, 12):
        clock.now = NOW.replace(month=month, day=15)
        ring.ensure()
        tokens[f"2026-{month:02d}"] = ring.encrypt("fraud_prevention", "ip", b"ip", clock.now)
    return ring, tokens


def _wrapped_and_plain(config: Settings, ring: keys.Keyring, epoch: str) -> list[bytes]:
    path = keys.KeyPaths.from_settings(config).keyring
    body, _ = storage.decode(path.read_bytes(), path, ring.kek)
    slot = body.purposes["fraud_prevention"].epochs[epoch]
    forms = []
    for kind, key in [("pseudonym", slot.pseudonym_key)] + [("enc", k) for k in
                                                            slot.encryption_keys]:
        assert key.wrapped is not None
        forms.append(key.wrapped.encode())
        plain = ring.kek.unwrap(base64.b64decode(key.wrapped),
                                key_context(kind, "fraud_prevention", epoch, key.id))
        forms += [plain, base64.b64encode(plain), plain.hex().encode()]
    return forms


def test_destroy_makes_old_epochs_unreadable_and_removes_key_bytes(
    config: Settings, clock: FakeClock
) -> None:
    ring, tokens = _year_of_data(config, clock)
    secrets_of_march = _wrapped_and_plain(config, ring, "2026-03")
    assert destroy(ring, "fraud_prevention", "2026-04") == ["2026-01", "2026-02", "2026-03"]
    for month in ("2026-01", "2026-02", "2026-03"):
        with pytest.raises(keys.KeyDestroyed, match="destroyed"):
            ring.decrypt("fraud_prevention", "ip", tokens[month])
    for month in MONTHS[3:]:
        assert ring.decrypt("fraud_prevention", "ip", tokens[month]) == b"ip"
    text = keys.KeyPaths.from_settings(config).keyring.read_bytes()
    for form in secrets_of_march:
        assert form not in text
    with pytest.raises(keys.NoKeyForEpoch, match="destroyed"):
        ring.encrypt("fraud_prevention", "ip", b"late", NOW.replace(month=3))
    with pytest.raises(keys.NoKeyForEpoch, match="destroyed"):
        ring.pseudonym("fraud_prevention", "u", NOW.replace(month=3))


def test_destroy_is_idempotent_and_refuses_the_current_epoch(
    config: Settings, clock: FakeClock
) -> None:
    ring, _ = _year_of_data(config, clock)
    destroy(ring, "fraud_prevention", "2026-02")
    entries = len(ring.verify_audit().entries)
    assert destroy(ring, "fraud_prevention", "2026-02") == []
    assert len(ring.verify_audit().entries) == entries  # nothing to do: nothing written
    with pytest.raises(keys.RefusedOperation, match="current epoch 2026-11"):
        destroy(ring, "fraud_prevention", "2026-12")
    with pytest.raises(keys.InvalidPurpose):
        destroy(ring, "advertising", "2026-02")
    with pytest.raises(keys.InvalidEpoch):
        destroy(ring, "fraud_prevention", "2026-W05")


def test_expire_follows_each_purpose_retention(config: Settings, clock: FakeClock) -> None:
    ring, tokens = _year_of_data(config, clock)
    clock.now = NOW.replace(month=11, day=20)
    expired = expire(ring)
    # fraud_prevention keeps 183 days: epochs that started before 2026-05-21 are gone.
    fraud = [e.split(":")[1] for e in expired if e.startswith("fraud_prevention:")]
    assert fraud == MONTHS[:5]
    for month in MONTHS[:5]:
        with pytest.raises(keys.KeyDestroyed):
            ring.decrypt("fraud_prevention", "ip", tokens[month])
    for month in MONTHS[5:]:
        assert ring.decrypt("fraud_prevention", "ip", tokens[month]) == b"ip"
    # geolocation keeps 395 days: nothing of 2026 expired yet.
    assert not [e for e in expired if e.startswith("geolocation:")]
    assert expire(ring) == []


def test_expire_at_the_exact_retention_boundary(config: Settings, clock: FakeClock) -> None:
    ring, _ = keys.init_keyring(config, SPECS, clock=clock)
    token = ring.encrypt("geolocation", "coords", b"p", NOW)
    # 2026-11 starts on 2026-11-01: with 395 days of retention it expires on 2027-12-01.
    clock.now = datetime(2027, 11, 30, 23, 59, tzinfo=UTC)
    assert "geolocation:2026-11" not in expire(ring)
    assert ring.decrypt("geolocation", "coords", token) == b"p"
    clock.now = datetime(2027, 12, 1, tzinfo=UTC)
    assert "geolocation:2026-11" in expire(ring)
    with pytest.raises(keys.KeyDestroyed):
        ring.decrypt("geolocation", "coords", token)


def test_ensure_never_recreates_destroyed_or_expired_epochs(
    config: Settings, clock: FakeClock
) -> None:
    ring, _ = keys.init_keyring(config, SPECS, clock=clock)
    destroy(ring, "consent_ledger", "2026-11-26")
    assert not [e for e in ring.ensure() if e.startswith("consent_ledger:")]
    clock.advance(days=1)
    assert ring.ensure() == ["consent_ledger:2026-11-28"]
    assert ring.ensure() == []
    clock.advance(days=60)
    assert all(not e.startswith("consent_ledger:2026-11") for e in ring.ensure())
