"""A worker built by the factory on the memory store: no broker, nothing started."""

from __future__ import annotations

import pytest

from pipeline.settings import Settings
from processors.worker import Worker, create_app


@pytest.fixture
def worker() -> Worker:
    """A fresh worker (its own faust app) per test: tests share no state through it."""
    return create_app(Settings.from_env({"PRIVACY_PIPELINE_WORKER_STORE": "memory://"}))
