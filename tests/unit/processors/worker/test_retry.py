"""The worker's one retry loop, with a fake sleep: transient, permanent, fatal, exhausted."""

from __future__ import annotations

import asyncio
import gc
import os
import weakref

import aiokafka.errors as aioerrors
import pytest

from processors.exceptions import RetriesExhausted
from processors.worker import Worker
from processors.worker.retry import Backoff


class Script:
    """An attempt that fails with the given errors in turn, then succeeds."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.slept: list[float] = []
        self.retried: list[str] = []
        self.dead: list[BaseException] = []

    async def attempt(self) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)

    async def sleep(self, delay: float) -> None:
        self.slept.append(delay)

    async def dead_letter(self, exc: BaseException) -> None:
        self.dead.append(exc)

    def run(self, attempts: int = 8) -> None:
        backoff = Backoff(attempts=attempts, first=0.5, cap=2.0, sleep=self.sleep)
        on_retry = lambda exc: self.retried.append(type(exc).__name__)  # noqa: E731
        asyncio.run(backoff.run("batch", self.attempt, self.dead_letter, on_retry))


def test_transient_failures_are_retried_with_doubling_capped_delays_then_succeed() -> None:
    script = Script(*(aioerrors.KafkaTimeoutError() for _ in range(4)))
    script.run()
    assert script.calls == 5
    assert script.slept == [0.5, 1.0, 2.0, 2.0]
    assert script.retried == ["KafkaTimeoutError"] * 4
    assert script.dead == []


def test_a_permanent_failure_goes_to_the_dead_letter_path_at_once() -> None:
    refused = aioerrors.MessageSizeTooLargeError()
    script = Script(ConnectionResetError(), refused)
    script.run()
    assert script.calls == 2 and script.slept == [0.5]
    assert script.dead == [refused]


def test_a_fatal_failure_is_raised_as_it_is_without_retry() -> None:
    script = Script(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        script.run()
    assert script.calls == 1 and script.slept == [] and script.dead == []


def test_retries_that_run_out_raise_and_dead_letter_nothing() -> None:
    script = Script(*(OSError() for _ in range(3)))
    with pytest.raises(RetriesExhausted, match="batch failed 3 times"):
        script.run(attempts=3)
    assert script.calls == 3 and script.dead == []


def test_an_error_of_the_dead_letter_path_is_not_retried_by_the_loop() -> None:
    async def broken(exc: BaseException) -> None:
        raise aioerrors.KafkaTimeoutError()

    script = Script(aioerrors.MessageSizeTooLargeError())
    backoff = Backoff(sleep=script.sleep)
    with pytest.raises(aioerrors.KafkaTimeoutError):
        asyncio.run(backoff.run("record", script.attempt, broken))
    assert script.calls == 1 and script.slept == []


class Exited(Exception):
    """``os._exit`` turned into an exception the test can catch."""


@pytest.mark.parametrize("failure", [ValueError("a bug"), aioerrors.KafkaTimeoutError()])
def test_the_worker_exits_70_on_a_fatal_or_persistent_failure(
    failure: BaseException, monkeypatch: pytest.MonkeyPatch, worker: Worker
) -> None:
    script = Script(*(failure for _ in range(3)))

    async def attempt(batch: object) -> None:
        await script.attempt()

    def exit_(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(worker, "_attempt", attempt)
    monkeypatch.setattr(worker, "_engine", None)
    monkeypatch.setattr(worker, "_backoff", Backoff(attempts=3, sleep=script.sleep))
    monkeypatch.setattr(os, "_exit", exit_)
    with pytest.raises(Exited, match="70"):
        asyncio.run(worker._process([]))
    assert script.calls == (1 if isinstance(failure, ValueError) else 3)


class Batch:
    """Stands for a failed batch's records (weakly referenceable)."""


def test_a_permanent_failure_does_not_keep_the_failed_batch_alive() -> None:
    # Without a full collection: a failure<->frame cycle would hold the batch until one ran.
    gone: list[weakref.ref[Batch]] = []

    async def attempt() -> None:
        batch = Batch()
        gone.append(weakref.ref(batch))
        raise aioerrors.MessageSizeTooLargeError()

    async def dead_letter(exc: BaseException) -> None:
        pass

    gc.disable()
    try:
        asyncio.run(Backoff(attempts=2).run("batch", attempt, dead_letter))
        assert gone[0]() is None
    finally:
        gc.enable()
