"""The worker collects garbage less often, from the moment it starts (processors.worker.app)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any, ClassVar

import faust.worker
import pytest

from processors.worker.app import GC_THRESHOLDS, run_worker


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


class Runner:
    """Stands for faust's Worker: records the collector's state when run, then stops."""

    seen: ClassVar[dict[str, Any]] = {}

    def __init__(self, app: Any, **_: Any) -> None:
        self.spinner: Any = object()

    async def on_stop(self) -> None:
        self.seen["base_on_stop"] = self.seen.get("base_on_stop", 0) + 1

    def execute_from_commandline(self) -> None:
        self.seen["threshold"], self.seen["frozen"] = gc.get_threshold(), gc.get_freeze_count()
        junk = [[i] for i in range(1000)]  # tracked objects alive at the stop
        gc.unfreeze()
        asyncio.run(self.on_stop())
        self.seen["frozen_at_stop"] = gc.get_freeze_count() - len(junk)


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(faust.worker, "Worker", Runner)
    monkeypatch.setattr(Runner, "seen", {})
    gc.unfreeze()
    run_worker(object(), "warning")
    return Runner.seen


def test_the_worker_runs_with_the_thresholds_and_start_up_frozen(seen: dict[str, Any]) -> None:
    assert seen["threshold"] == GC_THRESHOLDS
    assert seen["frozen"] > 0  # start-up objects are out of every later collection
    assert GC_THRESHOLDS[0] > 700  # higher than CPython's default, or this is pointless


def test_the_heap_is_frozen_when_the_worker_starts_to_stop(seen: dict[str, Any]) -> None:
    # faust's stores each run a full collection as they stop: frozen, the heap is not walked.
    assert seen["frozen_at_stop"] >= 0
    assert seen["base_on_stop"] == 1  # faust's own on_stop still runs
