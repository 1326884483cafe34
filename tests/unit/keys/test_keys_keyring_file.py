"""The keyring file: no plaintext key, 0600, atomic, refused when tampered or truncated."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from keys_support import NOW, SPECS

import keys
from keys import storage
from keys.ops import key_context
from pipeline.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _plain_keys(path: Path, kek: keys.Kek) -> list[bytes]:
    """Every unwrapped key of the keyring (the test holds the KEK)."""
    body, _ = storage.decode(path.read_bytes(), path, kek)
    found = []
    for name, purpose in body.purposes.items():
        for epoch, slot in purpose.epochs.items():
            pairs = [("pseudonym", slot.pseudonym_key)] + [("enc", k) for k in slot.encryption_keys]
            for kind, key in pairs:
                if key.wrapped:
                    found.append(kek.unwrap(base64.b64decode(key.wrapped),
                                            key_context(kind, name, epoch, key.id)))
    return found


def test_files_are_created_0600_in_a_0700_directory(config: Settings) -> None:
    old = os.umask(0)  # even with a permissive umask
    try:
        ring, created = keys.init_keyring(config, SPECS)
        ring.rotate("geolocation")
    finally:
        os.umask(old)
    paths = keys.KeyPaths.from_settings(config)
    assert created
    assert _mode(paths.directory) == 0o700
    for path in (paths.keyring, paths.master_key, paths.audit_log, paths.lock):
        assert _mode(path) == 0o600, path
    assert not list(paths.directory.glob(".*.tmp"))  # atomic write left no temp file


def test_keyring_holds_no_plaintext_key(ring: keys.Keyring, config: Settings) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    text = path.read_bytes()
    plain = _plain_keys(path, ring.kek)
    assert len(plain) >= 2 * len(SPECS)
    for key in plain:
        for form in (key, key.hex().encode(), base64.b64encode(key), base64.urlsafe_b64encode(key)):
            assert form not in text


def test_every_single_byte_change_is_refused(ring: keys.Keyring, config: Settings) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    raw = path.read_bytes()
    for index in range(len(raw)):
        forged = bytearray(raw)
        forged[index] ^= 0x01
        with pytest.raises((keys.KeyringCorrupt, keys.KekMismatch)):
            storage.decode(bytes(forged), path, ring.kek)


def test_tampered_keyring_is_refused_on_open_and_refresh(
    ring: keys.Keyring, config: Settings, reopen: Callable[..., keys.Keyring]
) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    raw = path.read_bytes()
    target = raw.index(b'"reserved": 0') + len(b'"reserved": ')
    path.write_bytes(raw[:target] + b"9" + raw[target + 1 :])
    with pytest.raises(keys.KeyringCorrupt, match="integrity check"):
        reopen()
    with pytest.raises(keys.KeyringCorrupt):
        ring.refresh()
    with pytest.raises(keys.KeyringCorrupt):  # reserving encryptions rereads it: fail closed
        ring.encrypt("geolocation", "coords", b"v", NOW)


def test_truncated_or_empty_keyring_is_refused(ring: keys.Keyring, config: Settings) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    raw = path.read_bytes()
    for length in [0, 1, *range(7, len(raw), 97), len(raw) - 1]:
        with pytest.raises(keys.KeyringCorrupt, match="truncated"):
            storage.decode(raw[:length], path, ring.kek)


def test_reformatted_keyring_is_refused(ring: keys.Keyring, config: Settings) -> None:
    path = keys.KeyPaths.from_settings(config).keyring
    raw = path.read_bytes()
    with pytest.raises(keys.KeyringCorrupt, match="edited"):
        storage.decode(raw.replace(b'\n "', b'\n  "', 1), path, ring.kek)


def test_another_kek_cannot_open_the_keyring(ring: keys.Keyring, config: Settings) -> None:
    other = keys.LocalKek(os.urandom(32), "env")
    with pytest.raises(keys.KekMismatch, match="configured KEK"):
        keys.open_keyring(config, SPECS, kek=other)


def test_missing_keyring_says_how_to_create_it(tmp_path: Path) -> None:
    config = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(keys.KeyringNotFound, match="keys init"):
        keys.open_keyring(config, SPECS)


def test_init_refuses_to_overwrite(ring: keys.Keyring, config: Settings) -> None:
    with pytest.raises(keys.KeyringExists, match="keys ensure"):
        keys.init_keyring(config, SPECS)
    keys.KeyPaths.from_settings(config).keyring.unlink()
    with pytest.raises(keys.KeyringExists, match="archive"):
        keys.init_keyring(config, SPECS)


def test_changing_a_purpose_epoch_kind_is_refused(ring: keys.Keyring, config: Settings) -> None:
    changed = [keys.PurposeSpec("geolocation", "week", 395)]
    with pytest.raises(keys.PolicyMismatch, match="month epochs"):
        keys.open_keyring(config, changed)
