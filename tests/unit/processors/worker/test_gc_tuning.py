"""The worker collects garbage less often, from the moment it starts (processors.worker.app)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import faust.worker
import pytest

from processors.worker.app import GC_THRESHOLDS, run_worker


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_worker_runs_with_the_thresholds_and_start_up_frozen(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Runner:
        def __init__(self, app: Any, **_: Any) -> None:
            self.spinner: Any = object()

        def execute_from_commandline(self) -> None:
            seen["threshold"], seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()

    monkeypatch.setattr(faust.worker, "Worker", Runner)
    gc.unfreeze()
    run_worker(object(), "warning")
    assert seen["threshold"] == GC_THRESHOLDS
    assert seen["frozen"] > 0  # start-up objects are out of every later collection
    assert GC_THRESHOLDS[0] > 700  # higher than CPython's default, or this is pointless
