"""KEK backends: local master file (0600, refused if exposed) and environment variable."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

import keys
from keys.kek import BACKENDS, create_master_file, load_master_file
from pipeline.settings import Settings


def test_wrap_is_bound_to_its_context(tmp_path: Path) -> None:
    kek = create_master_file(tmp_path / "master.key")
    secret = os.urandom(32)
    wrapped = kek.wrap(secret, b"enc|geolocation|2026-11|00")
    assert secret not in wrapped
    assert kek.unwrap(wrapped, b"enc|geolocation|2026-11|00") == secret
    with pytest.raises(keys.KekError):
        kek.unwrap(wrapped, b"enc|advertising|2026-11|00")
    assert kek.wrap(secret, b"c") != kek.wrap(secret, b"c")  # fresh nonce per wrap


def test_master_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    kek = create_master_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_master_file(path).kek_id == kek.kek_id
    with pytest.raises(keys.KekError, match="refusing to overwrite"):
        create_master_file(path)


def test_master_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_master_file(path)
    path.chmod(0o644)
    with pytest.raises(keys.KekError, match="chmod 600"):
        load_master_file(path)


def test_malformed_master_keys_are_refused_without_echoing_them(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    short = base64.b64encode(b"k" * 16).decode()
    path.write_text(short)
    path.chmod(0o600)
    with pytest.raises(keys.KekError) as caught:
        load_master_file(path)
    assert short not in str(caught.value)
    env = Settings.from_env({"PRIVACY_PIPELINE_KEK": "env",
                             "PRIVACY_PIPELINE_MASTER_KEY": "not base64!"})
    with pytest.raises(keys.KekError, match="openssl rand") as caught:
        keys.kek_from_settings(env)
    assert "not base64" not in str(caught.value)


def test_env_backend_and_its_fingerprint(tmp_path: Path) -> None:
    master = base64.b64encode(os.urandom(32)).decode()
    env = Settings.from_env({"PRIVACY_PIPELINE_KEK": "env", "PRIVACY_PIPELINE_MASTER_KEY": master})
    one, two = keys.kek_from_settings(env), keys.kek_from_settings(env)
    assert one.backend == "env"
    assert one.kek_id == two.kek_id and len(one.kek_id) == 16
    assert one.kek_id not in master and master not in repr(env)
    with pytest.raises(keys.KekError, match="MASTER_KEY"):
        keys.kek_from_settings(Settings.from_env({"PRIVACY_PIPELINE_KEK": "env"}))


def test_unknown_or_missing_backend_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(keys.KekError, match="file, env"):
        keys.kek_from_settings(Settings.from_env({"PRIVACY_PIPELINE_KEK": "hsm"}))
    missing = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)})
    with pytest.raises(keys.KekError, match="keys init"):
        keys.kek_from_settings(missing)
    assert set(BACKENDS) == {"file", "env"}
