"""Fixtures of the keys tests: a keyring in a temp data dir, a settable clock, test purposes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from keys_support import NOW, SPECS, FakeClock

import keys
from pipeline.settings import Settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def config(tmp_path: Any) -> Settings:
    return Settings.from_env(
        {"PRIVACY_PIPELINE_DATA_DIR": str(tmp_path / "data"), "PRIVACY_PIPELINE_ACTOR": "alice"}
    )


@pytest.fixture
def ring(config: Settings, clock: FakeClock) -> keys.Keyring:
    created, _ = keys.init_keyring(config, SPECS, clock=clock)
    return created


@pytest.fixture
def reopen(config: Settings, clock: FakeClock) -> Callable[..., keys.Keyring]:
    """Open the same keyring again, as another process would."""

    def _open(**options: Any) -> keys.Keyring:
        return keys.open_keyring(config, SPECS, clock=clock, **options)

    return _open
