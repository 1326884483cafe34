"""Follow ``pipeline.decisions.v1``: which events were decided, when, and how.

A background thread reads the decisions topic from its start (no consumer group) and keeps,
per decision id (the ledger-keyed event id, :mod:`pipeline.bench.refs`), the time its first
decision arrived, and the sources of dead-lettered input.
Stages wait on it with a bound; latency probes read the arrival times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from pipeline.bench.exceptions import StageTimeout
from pipeline.kafka import make_consumer
from pipeline.settings import Settings
from schemas.records import Decision, DecisionMessage

_DECODER = msgspec.json.Decoder(DecisionMessage)
Alive = Callable[[], str | None]
"""Returns why the pipeline can no longer finish (a process died), else None."""


class DecisionWatcher:
    """Reads the decisions topic in a thread; see the module docstring."""

    def __init__(self, settings: Settings, topic: str, keep_records: bool = False) -> None:
        self._consumer = make_consumer(settings, topic, group_id=None,
                                       max_poll_records=2000, fetch_max_bytes=32 * 1024 * 1024)
        self._keep = keep_records
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="decision-watcher", daemon=True)
        self.seen_at: dict[str, float] = {}
        """decision id -> monotonic time its first ``kind: event`` decision was read."""
        self.stamped: dict[str, int] = {}
        """decision id -> Kafka timestamp (ms, the worker's clock at send) of that decision."""
        self.invalid: set[str] = set()
        """``source`` of every dead-lettered input record."""
        self.records: list[Decision] = []
        """Every record read, when ``keep_records``."""
        self.undecodable = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._expected: frozenset[str] = frozenset()
        self._hits = 0

    @property
    def native_id(self) -> int | None:
        """The reading thread's kernel id (its CPU is the harness's, not the pipeline's)."""
        return self._thread.native_id

    def __enter__(self) -> DecisionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread and close the consumer."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            polled = self._consumer.poll(timeout_ms=200)
            now = time.monotonic()
            for batch in polled.values():
                for message in batch:
                    self._take(message.value, now, message.timestamp)

    def _take(self, value: bytes, now: float, stamp_ms: int) -> None:
        try:
            message = _DECODER.decode(value)
        except msgspec.DecodeError:
            self.undecodable += 1
            return
        records: Iterable[Decision] = message.records if message.records is not None else [message]
        with self._lock:
            for record in records:
                self._add(record, now, stamp_ms)
            self._lock.notify_all()

    def _add(self, record: Decision, now: float, stamp_ms: int) -> None:
        if self._keep:
            self.records.append(record)
        if record.kind == "invalid" and record.source is not None:
            self.invalid.add(record.source)
        elif record.kind == "event" and record.event_id is not None \
                and record.event_id not in self.seen_at:
            self.seen_at[record.event_id] = now
            self.stamped[record.event_id] = stamp_ms
            self._hits += record.event_id in self._expected
            self.first_at = self.first_at or now
            self.last_at = now

    def decided(self) -> int:
        """How many distinct decision ids were decided so far."""
        with self._lock:
            return len(self.seen_at)

    def wait(self, ids: set[str], invalid: int, timeout: float, alive: Alive | None = None,
             progress: Callable[[int], Any] | None = None, stall_s: float | None = None) -> None:
        """Block until every id in ``ids`` is decided and ``invalid`` sources dead-lettered.

        Raises:
            StageTimeout: not done within ``timeout`` s, no new decision for ``stall_s`` s,
                or ``alive`` reported a death.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            # Counted incrementally by the reader from now on: no set operation per wake-up.
            self._expected = frozenset(ids)
            self._hits = len(self._expected & self.seen_at.keys())
            while True:
                missing = len(self._expected) - self._hits
                if progress is not None:
                    progress(len(ids) - missing)
                if missing == 0 and len(self.invalid) >= invalid:
                    return
                why = alive() if alive is not None else None
                why = why or self._stalled(stall_s)
                left = deadline - time.monotonic()
                if why is not None or left <= 0:
                    raise StageTimeout(
                        f"{missing} of {len(ids)} events undecided and "
                        f"{max(0, invalid - len(self.invalid))} invalid records not dead-lettered"
                        + (f": {why}" if why else f" after {timeout:.0f} s"))
                self._lock.wait(timeout=min(1.0, left))

    def _stalled(self, stall_s: float | None) -> str | None:
        if stall_s is None or self.last_at is None:
            return None
        idle = time.monotonic() - self.last_at
        return f"no new decision for {idle:.0f} s (stalled)" if idle > stall_s else None

    def wait_for(self, condition: Callable[[DecisionWatcher], bool], timeout: float,
                 alive: Alive | None = None, what: str = "condition") -> None:
        """Block until ``condition(self)`` holds (evaluated under the watcher's lock).

        Raises:
            StageTimeout: not within ``timeout`` s, or ``alive`` reported a death.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while not condition(self):
                why = alive() if alive is not None else None
                left = deadline - time.monotonic()
                if why is not None or left <= 0:
                    raise StageTimeout(f"{what} not reached: " + (why or f"after {timeout:.0f} s"))
                self._lock.wait(timeout=min(1.0, left))
