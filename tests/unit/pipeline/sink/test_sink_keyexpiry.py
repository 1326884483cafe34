"""The sink's key-expiry hook destroys epochs past retention in the real keyring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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
