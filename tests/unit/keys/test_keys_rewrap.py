"""Rewrap under a new KEK: data untouched, the old KEK no longer opens the keyring."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from keys_support import NOW, SPECS, FakeClock

import keys
from keys.kek import load_master_file
from keys.lifecycle import rewrap_to_master_key, rewrap_to_new_master_file
from pipeline.settings import Settings


def _tokens(ring: keys.Keyring) -> dict[str, str]:
    tokens = {"geo": ring.encrypt("geolocation", "coords", b"geo", NOW)}
    ring.rotate("geolocation")
    tokens["geo2"] = ring.encrypt("geolocation", "coords", b"geo2", NOW)
    tokens["fraud"] = ring.encrypt("fraud_prevention", "ip", b"fraud", NOW)
    return tokens


def _all_decrypt(ring: keys.Keyring, tokens: dict[str, str]) -> None:
    assert ring.decrypt("geolocation", "coords", tokens["geo"]) == b"geo"
    assert ring.decrypt("geolocation", "coords", tokens["geo2"]) == b"geo2"
    assert ring.decrypt("fraud_prevention", "ip", tokens["fraud"]) == b"fraud"


def test_rewrap_with_explicit_keks(config: Settings, clock: FakeClock) -> None:
    old = keys.LocalKek(os.urandom(32), "env")
    ring, created = keys.init_keyring(config, SPECS, clock=clock, kek=old)
    assert not created
    tokens = _tokens(ring)
    pseudonym = ring.pseudonym("geolocation", "u", NOW)
    new = keys.LocalKek(os.urandom(32), "env")
    assert ring.rewrap(new) > 2 * len(SPECS)
    _all_decrypt(ring, tokens)
    with pytest.raises(keys.KekMismatch):
        keys.open_keyring(config, SPECS, kek=old)
    reopened = keys.open_keyring(config, SPECS, kek=new)
    _all_decrypt(reopened, tokens)
    assert reopened.pseudonym("geolocation", "u", NOW) == pseudonym
    assert reopened.verify_audit().entries[-1].action == "rewrap"
    with pytest.raises(keys.RefusedOperation):
        reopened.rewrap(new)


def test_rewrap_to_a_new_master_file(
    ring: keys.Keyring, config: Settings, reopen: Callable[..., keys.Keyring]
) -> None:
    paths = keys.KeyPaths.from_settings(config)
    old_kek = load_master_file(paths.master_key)
    worker = reopen()  # a running process with the file backend
    tokens = _tokens(ring)
    new = rewrap_to_new_master_file(ring, paths)
    assert load_master_file(paths.master_key).kek_id == new.kek_id != old_kek.kek_id
    assert not paths.pending_master_key.exists()
    _all_decrypt(reopen(), tokens)
    with pytest.raises(keys.KekMismatch):
        keys.open_keyring(config, SPECS, kek=old_kek)
    assert worker.refresh() is True  # reloads the new master key by itself
    _all_decrypt(worker, tokens)
    assert worker.kek.kek_id == new.kek_id


def test_interrupted_master_swap_is_finished_on_open(
    ring: keys.Keyring, config: Settings, reopen: Callable[..., keys.Keyring]
) -> None:
    paths = keys.KeyPaths.from_settings(config)
    tokens = _tokens(ring)
    new = keys.kek.create_master_file(paths.pending_master_key)
    ring.rewrap(new)  # crash here: keyring under master.key.new, master.key still old
    _all_decrypt(reopen(), tokens)
    assert load_master_file(paths.master_key).kek_id == new.kek_id
    assert not paths.pending_master_key.exists()


def test_rewrap_to_env_key_removes_the_old_master_file(ring: keys.Keyring,
                                                       config: Settings) -> None:
    paths = keys.KeyPaths.from_settings(config)
    tokens = _tokens(ring)
    master = os.urandom(32)
    rewrap_to_master_key(ring, paths, base64.b64encode(master).decode())
    assert not paths.master_key.exists()
    env = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(config.data_dir),
                             "PRIVACY_PIPELINE_KEK": "env",
                             "PRIVACY_PIPELINE_MASTER_KEY": base64.b64encode(master).decode()})
    _all_decrypt(keys.open_keyring(env, SPECS), tokens)
