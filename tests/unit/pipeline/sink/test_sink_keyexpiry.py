"""The sink's key-expiry hook destroys epochs past retention in the real keyring."""

from __future__ import annotations

import base64
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import keys
from pipeline.policy import load_policy
from pipeline.settings import Settings
from pipeline.sink.keyexpiry import keyring_expiry


def test_no_keyring_means_no_hook(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)})
    assert keyring_expiry(settings, load_policy(None)) is None


def test_hook_destroys_epochs_past_retention(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)})
    policy = load_policy(None)
    keys.init_keyring(settings, policy.key_specs())
    live = {(r.purpose, r.epoch) for r in _rows(settings, policy) if r.epoch_status == "live"}
    assert live
    hook = keyring_expiry(settings, policy)
    assert hook is not None
    hook(datetime.now(UTC))  # nothing is old yet
    assert {(r.purpose, r.epoch) for r in _rows(settings, policy)
            if r.epoch_status == "live"} == live
    hook(datetime.now(UTC) + timedelta(days=3 * 366))
    # Three years on, every purpose's keys are gone except the consent ledger's (5 years).
    still = {r.purpose for r in _rows(settings, policy) if r.epoch_status == "live"}
    assert still == {"consent_ledger"}


def _rows(settings: Settings, policy: object) -> list[keys.KeyRow]:
    return keys.open_keyring(settings, policy.key_specs()).describe()  # type: ignore[attr-defined]


def test_hook_retires_the_master_key_with_the_expired_epochs(tmp_path: Path) -> None:
    settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)})
    policy = load_policy(None)
    keys.init_keyring(settings, policy.key_specs())
    master = keys.KeyPaths.from_settings(settings).master_key
    before = master.read_bytes()
    hook = keyring_expiry(settings, policy)
    assert hook is not None
    hook(datetime.now(UTC))
    assert master.read_bytes() == before  # nothing destroyed: the KEK stays
    hook(datetime.now(UTC) + timedelta(days=3 * 366))
    assert master.read_bytes() != before
    assert sorted(p.name for p in master.parent.glob("master.key*")) == ["master.key"]


def test_hook_with_an_env_kek_refuses_and_logs_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    master = base64.b64encode(os.urandom(32)).decode()
    settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path),
                                  "PRIVACY_PIPELINE_KEK": "env",
                                  "PRIVACY_PIPELINE_MASTER_KEY": master})
    policy = load_policy(None)
    keys.init_keyring(settings, policy.key_specs())
    live = [r for r in _rows(settings, policy) if r.epoch_status == "live"]
    hook = keyring_expiry(settings, policy)
    assert hook is not None
    with caplog.at_level(logging.ERROR):
        hook(datetime.now(UTC) + timedelta(days=3 * 366))
    assert "keys expire" in caplog.text and "nothing was destroyed" in caplog.text
    assert master not in caplog.text
    assert [r for r in _rows(settings, policy) if r.epoch_status == "live"] == live
