"""Crypto-shredding that survives backups: a destroy retires the KEK with the keys.

The attacker of these tests holds a copy of the keys directory taken before a destroy
(``keyring.json``, ``audit.log``) and whatever key material the system holds now.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from keys_support import NOW, SPECS, FakeClock

import keys
import keys.shred
from keys import storage
from keys.kek import LocalKek, create_master_file, load_master_file
from keys.masterfile import FreshMasterFile
from keys.ops import key_context
from pipeline.settings import Settings


def _two_months(config: Settings, clock: FakeClock, kek: keys.Kek | None = None
                ) -> tuple[keys.Keyring, str, str]:
    """A keyring with a token in October (to destroy) and one in November (kept)."""
    clock.now = NOW.replace(month=10)
    ring, _ = keys.init_keyring(config, SPECS, clock=clock, kek=kek)
    october = ring.encrypt("geolocation", "coords", b"48.85,2.35", clock.now)
    clock.now = NOW
    ring.ensure()
    return ring, october, ring.encrypt("geolocation", "coords", b"45.76,4.83", NOW)


def _october_wrapped(keyring_bytes: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """(wrapped bytes, context) of every October geolocation key in a keyring file."""
    doc = storage._parse(keyring_bytes, path)
    epoch = doc.body.purposes["geolocation"].epochs["2026-10"]
    pairs = [("pseudonym", epoch.pseudonym_key)] + [("enc", k) for k in epoch.encryption_keys]
    return [(base64.b64decode(key.wrapped or ""),
             key_context(kind, "geolocation", "2026-10", key.id)) for kind, key in pairs]


def _keys_now(directory: Path) -> list[LocalKek]:
    """Every master key an attacker finds in the keys directory now."""
    found = []
    for path in directory.iterdir():
        try:
            found.append(load_master_file(path))
        except keys.KekError:
            continue
    return found


def test_a_keyring_copy_from_before_destroy_decrypts_nothing_destroyed(
    config: Settings, clock: FakeClock, tmp_path: Path, reopen: Callable[..., keys.Keyring]
) -> None:
    ring, october, november = _two_months(config, clock)
    paths = ring.paths
    old_kek = load_master_file(paths.master_key)
    old_master_text = paths.master_key.read_bytes().strip()
    backup = tmp_path / "backup"
    shutil.copytree(paths.directory, backup, ignore=shutil.ignore_patterns("master.key*"))

    shredded = keys.shred.destroy(ring, "geolocation", "2026-11")
    assert shredded.epochs == ["2026-10"] and shredded.kek is not None

    now_keys = _keys_now(paths.directory)
    assert [k.kek_id for k in now_keys] == [shredded.kek.kek_id] != [old_kek.kek_id]
    assert sorted(p.name for p in paths.directory.iterdir() if "master.key" in p.name) == [
        "master.key"]
    assert all(old_master_text not in p.read_bytes() for p in paths.directory.iterdir())
    # The old copy with today's key: refused at open, and no wrapped October key unwraps.
    restored = tmp_path / "restored" / "data"
    shutil.copytree(backup, restored / "keys")
    shutil.copy2(paths.master_key, restored / "keys" / "master.key")
    attacker = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(restored)})
    with pytest.raises(keys.KekMismatch):
        keys.open_keyring(attacker, SPECS)
    copy = (backup / "keyring.json").read_bytes()
    for wrapped, context in _october_wrapped(copy, backup / "keyring.json"):
        for kek in now_keys:
            with pytest.raises(keys.KekError):
                kek.unwrap(wrapped, context)
    # The live keyring: October gone, November intact, for this and another process.
    with pytest.raises(keys.KeyDestroyed):
        ring.decrypt("geolocation", "coords", october)
    assert reopen().decrypt("geolocation", "coords", november) == b"45.76,4.83"
    assert ring.verify_audit().entries[-1].detail["kek_to"] == shredded.kek.kek_id


def test_expire_retires_the_kek_and_a_running_process_follows(
    config: Settings, clock: FakeClock, reopen: Callable[..., keys.Keyring]
) -> None:
    ring, october, november = _two_months(config, clock)
    worker = reopen()
    before = ring.kek.kek_id
    clock.now = NOW.replace(year=2027, month=11, day=20)  # October 2026 past 395 days
    assert "geolocation:2026-10" in keys.shred.expire(ring).epochs
    assert ring.kek.kek_id != before == worker.kek.kek_id
    assert worker.refresh() is True and worker.kek.kek_id == ring.kek.kek_id
    with pytest.raises(keys.KeyDestroyed):
        worker.decrypt("geolocation", "coords", october)
    assert worker.decrypt("geolocation", "coords", november) == b"45.76,4.83"
    kek_now = ring.kek.kek_id
    assert keys.shred.expire(ring).epochs == [] and ring.kek.kek_id == kek_now  # nothing to do


def test_the_keyring_refuses_on_open_a_key_the_audit_log_destroyed(
    config: Settings, clock: FakeClock
) -> None:
    ring, _, _ = _two_months(config, clock)
    path = ring.paths.keyring
    copy, old_kek = path.read_bytes(), load_master_file(ring.paths.master_key)
    keys.shred.destroy(ring, "geolocation", "2026-11")
    path.write_bytes(copy)
    with pytest.raises(keys.KeyringRolledBack, match=r"holds key \w+ \(geolocation 2026-10\)"):
        keys.open_keyring(config, SPECS, kek=old_kek)


def test_a_crash_between_the_keyring_write_and_the_master_swap_is_finished_on_open(
    config: Settings, clock: FakeClock, reopen: Callable[..., keys.Keyring]
) -> None:
    ring, october, november = _two_months(config, clock)
    paths = ring.paths
    old_id = load_master_file(paths.master_key).kek_id
    new = create_master_file(paths.pending_master_key)
    ring.destroy("geolocation", "2026-11", lambda: new)  # the process dies right here
    assert load_master_file(paths.master_key).kek_id == old_id  # swap not done yet
    survivor = reopen()  # any process opening the keyring finishes it
    assert survivor.decrypt("geolocation", "coords", november) == b"45.76,4.83"
    assert [k.kek_id for k in _keys_now(paths.directory)] == [new.kek_id]
    assert not paths.pending_master_key.exists() and not paths.retired_master_key.exists()
    with pytest.raises(keys.KeyDestroyed):
        survivor.decrypt("geolocation", "coords", october)


def test_a_crash_before_the_keyring_write_destroys_nothing_and_is_cleaned_up(
    config: Settings, clock: FakeClock, reopen: Callable[..., keys.Keyring]
) -> None:
    ring, october, _ = _two_months(config, clock)
    paths = ring.paths
    old_id = load_master_file(paths.master_key).kek_id
    fresh = FreshMasterFile(paths)

    def dies() -> keys.Kek:
        fresh()
        raise KeyboardInterrupt  # killed after writing master.key.new

    with pytest.raises(KeyboardInterrupt):
        ring.destroy("geolocation", "2026-11", dies)
    fresh._lock.close()  # the process is gone: its flock with it, master.key.new left behind
    assert paths.pending_master_key.exists()
    assert reopen().decrypt("geolocation", "coords", october) == b"48.85,2.35"
    assert load_master_file(paths.master_key).kek_id == old_id  # an open keeps both keys
    assert keys.shred.destroy(reopen(), "geolocation", "2026-11").epochs == ["2026-10"]
    assert [p.name for p in paths.directory.iterdir() if "master.key" in p.name] == [
        "master.key"]


def test_env_backend_needs_a_new_key_and_destroys_nothing_without_it(
    config: Settings, clock: FakeClock
) -> None:
    current_master = os.urandom(32)
    current = LocalKek(current_master, "env")
    ring, october, november = _two_months(config, clock, kek=current)
    copy = ring.paths.keyring.read_bytes()
    with pytest.raises(keys.RefusedOperation, match="new master key on stdin"):
        keys.shred.destroy(ring, "geolocation", "2026-11")
    assert ring.decrypt("geolocation", "coords", october) == b"48.85,2.35"
    assert ring.paths.keyring.read_bytes() == copy
    with pytest.raises(keys.RefusedOperation, match="current one"):
        keys.shred.destroy(ring, "geolocation", "2026-11", base64.b64encode(
            current_master).decode())
    new_master = base64.b64encode(os.urandom(32)).decode()
    shredded = keys.shred.destroy(ring, "geolocation", "2026-11", new_master)
    assert shredded.kek is not None and shredded.kek.kek_id != current.kek_id
    for wrapped, context in _october_wrapped(copy, ring.paths.keyring):
        with pytest.raises(keys.KekError):
            shredded.kek.unwrap(wrapped, context)
    env = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(config.data_dir),
                             "PRIVACY_PIPELINE_KEK": "env",
                             "PRIVACY_PIPELINE_MASTER_KEY": new_master})
    assert keys.open_keyring(env, SPECS).decrypt("geolocation", "coords", november) == (
        b"45.76,4.83")
    with pytest.raises(keys.KekError, match="32 random bytes"):
        keys.shred.expire(keys.open_keyring(env, SPECS, clock=lambda: NOW.replace(year=2028)),
                          "not base64")


def test_a_running_process_refuses_an_old_copy_swapped_in_under_it(
    config: Settings, clock: FakeClock, reopen: Callable[..., keys.Keyring]
) -> None:
    ring, october, _ = _two_months(config, clock)
    copy = ring.paths.keyring.read_bytes()
    worker = reopen()  # still holds the old KEK in memory after the destroy
    worker.record("list")  # its index of the audit log is built before the destroy
    keys.shred.destroy(ring, "geolocation", "2026-11")
    ring.paths.keyring.write_bytes(copy)
    with pytest.raises(keys.KeyringRolledBack):
        worker.refresh()
    with pytest.raises(keys.KeyringRolledBack):
        worker.rotate("geolocation")  # nor is the copy laundered by a new write
    with pytest.raises(keys.KeyDestroyed):  # the state it refused nothing for stays in force
        ring.decrypt("geolocation", "coords", october)
