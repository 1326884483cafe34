"""The audit log: who/what/when/digest per operation; edits, deletions, reorders detected."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from keys_support import NOW, SPECS, FakeClock, destroy

import keys
from keys import storage
from pipeline.settings import Settings


@pytest.fixture
def log(ring: keys.Keyring, config: Settings) -> Path:
    """An audit log of five entries: init, rotate, reserve, rotate, record."""
    ring.rotate("geolocation")
    ring.encrypt("geolocation", "coords", b"v", NOW)
    ring.rotate("fraud_prevention")
    ring.record("list")
    return keys.KeyPaths.from_settings(config).audit_log


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_entries_record_who_what_when_and_the_keyring_digest(
    ring: keys.Keyring, log: Path, config: Settings
) -> None:
    report = ring.verify_audit()
    assert [e.action for e in report.entries] == ["init", "rotate", "reserve", "rotate", "list"]
    assert report.pending == 0
    assert {e.actor for e in report.entries} == {"alice"}
    assert all(e.time == NOW for e in report.entries)
    rotate = report.entries[1]
    assert rotate.purpose == "geolocation" and rotate.epoch == "2026-11"
    assert len(rotate.key_ids) == 2
    keyring = keys.KeyPaths.from_settings(config).keyring
    assert report.entries[-1].keyring_digest == storage.digest(keyring.read_bytes())
    assert report.entries[1].prev == hashlib.sha256(_lines(log)[0].rstrip(b"\n")).hexdigest()


def test_log_is_0600_and_holds_no_key_material(ring: keys.Keyring, log: Path) -> None:
    assert log.stat().st_mode & 0o777 == 0o600
    text = log.read_text()
    assert "wrapped" not in text and "integrity_key" not in text


@pytest.mark.parametrize("field", ["actor", "action", "time", "purpose"])
def test_editing_an_entry_is_detected(ring: keys.Keyring, log: Path, field: str) -> None:
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry[field] = {"actor": "mallory", "action": "list", "time": "2026-11-27T10:00:00Z",
                    "purpose": "advertising"}[field]
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    log.write_bytes(b"".join(lines))
    with pytest.raises(keys.AuditChainBroken, match="line 2 was edited"):
        ring.verify_audit()


def test_editing_and_rechaining_without_the_key_is_detected(ring: keys.Keyring, log: Path) -> None:
    lines = _lines(log)
    forged = []
    prev = "0" * 64
    for number, line in enumerate(lines):
        entry = json.loads(line)
        if number == 2:
            entry["actor"] = "mallory"
        entry["prev"] = prev
        raw = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        prev = hashlib.sha256(raw).hexdigest()
        forged.append(raw + b"\n")
    log.write_bytes(b"".join(forged))
    with pytest.raises(keys.AuditChainBroken, match="MAC"):
        ring.verify_audit()


def test_deleting_an_entry_is_detected(ring: keys.Keyring, log: Path) -> None:
    lines = _lines(log)
    log.write_bytes(b"".join(lines[:2] + lines[3:]))
    with pytest.raises(keys.AuditChainBroken, match="line 3 does not follow"):
        ring.verify_audit()


def test_deleting_the_last_entries_is_detected(ring: keys.Keyring, log: Path) -> None:
    lines = _lines(log)
    log.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(keys.AuditChainBroken, match="removed from the end"):
        ring.verify_audit()
    log.write_bytes(b"")
    with pytest.raises(keys.AuditChainBroken, match="removed from the end"):
        ring.verify_audit()


def test_reordering_entries_is_detected(ring: keys.Keyring, log: Path) -> None:
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    log.write_bytes(b"".join(lines))
    with pytest.raises(keys.AuditChainBroken, match="does not follow"):
        ring.verify_audit()


def test_a_partial_last_line_is_detected_and_blocks_writes(ring: keys.Keyring, log: Path) -> None:
    log.write_bytes(log.read_bytes()[:-5])
    with pytest.raises(keys.AuditChainBroken, match="partial"):
        ring.verify_audit()
    with pytest.raises(keys.AuditChainBroken, match="partial"):
        ring.rotate("geolocation")


def test_a_keyring_rolled_back_to_an_older_copy_is_detected(
    ring: keys.Keyring, config: Settings, clock: FakeClock,
    reopen: Callable[..., keys.Keyring],
) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    clock.advance(days=40)
    ring.ensure()
    backup, old_kek = path.read_bytes(), ring.kek
    destroy(ring, "geolocation", "2026-12")
    path.write_bytes(backup)  # resurrects the destroyed November keys
    with pytest.raises(keys.KekMismatch):  # the KEK in service never wrapped the old copy
        reopen()
    # Even with the retired KEK (say, from an old master.key backup), the copy is refused.
    with pytest.raises(keys.KeyringRolledBack, match=r"audit entry \d+ destroyed"):
        keys.open_keyring(config, SPECS, clock=clock, kek=old_kek)


def test_a_keyring_restored_before_its_last_entry_shows_pending_entries(
    ring: keys.Keyring, config: Settings
) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    backup = path.read_bytes()
    ring.rotate("geolocation")
    path.write_bytes(backup)
    assert ring.verify_audit().pending == 1


def test_keyring_changed_outside_the_log_is_detected(ring: keys.Keyring, config: Settings) -> None:
    paths = keys.KeyPaths.from_settings(config)
    body, integrity_key = storage.decode(paths.keyring.read_bytes(), paths.keyring, ring.kek)
    body.max_encryptions_per_key = 10  # a KEK holder bypassing the audited commands
    storage.write_atomic(paths.keyring, storage.render(body, integrity_key))
    with pytest.raises(keys.AuditChainBroken, match="without an audited operation"):
        ring.verify_audit()


def test_actor_defaults_to_the_login_name(config: Settings, clock: FakeClock) -> None:
    anonymous = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(config.data_dir)})
    ring, _ = keys.init_keyring(anonymous, SPECS, clock=clock)
    assert ring.verify_audit().entries[0].actor not in ("", "alice")
