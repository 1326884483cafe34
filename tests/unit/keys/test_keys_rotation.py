"""Rotation, the per-key encryption cap, and live reload in a running process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from keys_support import NOW, SPECS, FakeClock, destroy

import keys
from keys.fieldcrypt import decode_token, token_key_id
from pipeline.settings import Settings


def _kid(token: str) -> str:
    return token_key_id(decode_token(token)).hex()


def _statuses(ring: keys.Keyring, purpose: str, epoch: str) -> dict[str, str]:
    return {row.key_id: row.status for row in ring.describe()
            if row.purpose == purpose and row.epoch == epoch and row.role == "encryption"}


def test_rotate_switches_new_data_and_keeps_old_data_readable(ring: keys.Keyring) -> None:
    old_token = ring.encrypt("geolocation", "coords", b"old", NOW)
    old_id, new_id = ring.rotate("geolocation")
    assert _kid(old_token) == old_id
    new_token = ring.encrypt("geolocation", "coords", b"new", NOW)
    assert _kid(new_token) == new_id != old_id
    assert ring.decrypt("geolocation", "coords", old_token) == b"old"
    assert ring.decrypt("geolocation", "coords", new_token) == b"new"
    assert _statuses(ring, "geolocation", "2026-11") == {old_id: "decrypt-only", new_id: "active"}


def test_rotate_an_explicit_epoch_leaves_the_others(ring: keys.Keyring) -> None:
    before = _statuses(ring, "geolocation", "2026-11")
    ring.rotate("geolocation", "2026-12")
    assert _statuses(ring, "geolocation", "2026-11") == before
    assert len(_statuses(ring, "geolocation", "2026-12")) == 2


def test_rotate_unknown_purpose_or_epoch_is_a_typed_error(ring: keys.Keyring) -> None:
    with pytest.raises(keys.NoKeyForEpoch):
        ring.rotate("advertising")
    with pytest.raises(keys.NoKeyForEpoch, match="keys ensure"):
        ring.rotate("geolocation", "2027-05")


def test_small_counter_cap_forces_rotation(config: Settings, clock: FakeClock) -> None:
    ring, _ = keys.init_keyring(config, SPECS, clock=clock, max_encryptions=5)
    tokens = [ring.encrypt("geolocation", "coords", str(n).encode(), NOW) for n in range(12)]
    per_key = Counter(_kid(t) for t in tokens)
    assert sorted(per_key.values()) == [2, 5, 5]
    assert max(per_key.values()) <= 5
    statuses = _statuses(ring, "geolocation", "2026-11")
    assert sorted(statuses.values()) == ["active", "decrypt-only", "decrypt-only"]
    assert [ring.decrypt("geolocation", "coords", t) for t in tokens] == [
        str(n).encode() for n in range(12)
    ]
    rotations = [e for e in ring.verify_audit().entries if e.action == "rotate"]
    assert [e.detail["reason"] for e in rotations] == ["encryption cap reached"] * 2


def test_cap_holds_across_processes(config: Settings, clock: FakeClock,
                                    reopen: Callable[..., keys.Keyring]) -> None:
    keys.init_keyring(config, SPECS, clock=clock, max_encryptions=6)
    one, two = reopen(lease_size=2), reopen(lease_size=2)
    tokens = []
    for n in range(30):
        worker = one if n % 3 else two
        tokens.append(worker.encrypt("geolocation", "coords", b"v", NOW))
    per_key = Counter(_kid(t) for t in tokens)
    assert max(per_key.values()) <= 6
    assert len(per_key) >= 5
    assert all(one.decrypt("geolocation", "coords", t) == b"v" for t in tokens)


def test_reserved_counts_survive_a_restart(config: Settings, clock: FakeClock,
                                           reopen: Callable[..., keys.Keyring]) -> None:
    keys.init_keyring(config, SPECS, clock=clock, max_encryptions=4)
    first = reopen(lease_size=3)
    used = {_kid(first.encrypt("geolocation", "c", b"v", NOW)) for _ in range(2)}
    restarted = reopen(lease_size=3)  # the unused third of the lease is not reused
    after = [_kid(restarted.encrypt("geolocation", "c", b"v", NOW)) for _ in range(2)]
    assert after[0] in used and after[1] not in used


def test_a_running_process_sees_rotation_after_refresh(
    ring: keys.Keyring, reopen: Callable[..., keys.Keyring]
) -> None:
    worker = reopen()
    first = worker.encrypt("geolocation", "coords", b"v", NOW)
    assert worker.refresh() is False  # nothing changed since
    _, new_id = ring.rotate("geolocation")
    assert worker.refresh() is True
    assert worker.refresh() is False
    assert _kid(worker.encrypt("geolocation", "coords", b"v", NOW)) == new_id
    assert worker.decrypt("geolocation", "coords", first) == b"v"


def test_periodic_refresh_picks_up_changes_within_five_seconds(
    ring: keys.Keyring, reopen: Callable[..., keys.Keyring]
) -> None:
    now = [100.0]
    worker = reopen(monotonic=lambda: now[0])
    worker.encrypt("geolocation", "coords", b"v", NOW)
    _, new_id = ring.rotate("geolocation")
    now[0] += 0.5
    assert worker.refresh_if_due() is False  # rate-limited: no stat yet
    now[0] += 4.5
    assert worker.refresh_if_due() is True
    assert _kid(worker.encrypt("geolocation", "coords", b"v", NOW)) == new_id


def test_decrypting_a_token_of_a_newer_key_refreshes_by_itself(
    ring: keys.Keyring, reopen: Callable[..., keys.Keyring]
) -> None:
    reader = reopen()
    ring.rotate("geolocation")
    token = ring.encrypt("geolocation", "coords", b"fresh", NOW)
    assert reader.decrypt("geolocation", "coords", token) == b"fresh"


def test_a_running_process_sees_destruction(
    config: Settings, clock: FakeClock, reopen: Callable[..., keys.Keyring]
) -> None:
    clock.advance(days=-40)  # October: keys for 2026-10 and 2026-11
    admin, _ = keys.init_keyring(config, SPECS, clock=clock)
    worker = reopen()
    old = worker.encrypt("geolocation", "coords", b"october", clock.now)
    clock.advance(days=40)
    admin.ensure()
    destroy(admin, "geolocation", "2026-11")
    assert worker.decrypt("geolocation", "coords", old) == b"october"  # not refreshed yet
    assert worker.refresh() is True
    with pytest.raises(keys.KeyDestroyed, match="expired"):
        worker.decrypt("geolocation", "coords", old)
