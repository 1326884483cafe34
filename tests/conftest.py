"""Fixtures shared by every test, and the ``integration`` marker applied by directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import Settings

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under ``tests/integration/`` as ``integration`` (needs the real broker)."""
    for item in items:
        if _INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings from the environment (``scripts/test.sh`` points them at its test broker)."""
    return Settings.from_env()
