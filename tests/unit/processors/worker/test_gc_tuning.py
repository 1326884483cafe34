"""The worker collects garbage less often, from the moment it starts (processors.worker.app)."""

from __future__ import annotations

import asyncio
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


def test_the_heap_is_frozen_when_the_worker_starts_to_stop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # faust's stores each run a full collection as they stop: frozen, the heap is not walked.
    seen: dict[str, int] = {}

    class Runner:
        def __init__(self, app: Any, **_: Any) -> None:
            self.spinner: Any = object()

        async def on_stop(self) -> None:
            seen["base"] = seen.get("base", 0) + 1

        def execute_from_commandline(self) -> None:
            junk = [[i] for i in range(1000)]  # tracked objects alive at the stop
            gc.unfreeze()
            asyncio.run(self.on_stop())
            seen["frozen"] = gc.get_freeze_count() - len(junk)

    monkeypatch.setattr(faust.worker, "Worker", Runner)
    run_worker(object(), "warning")
    assert seen["frozen"] >= 0
    assert seen["base"] == 1  # faust's own on_stop still runs
