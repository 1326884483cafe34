"""Consent-to-effect latency: withdrawals injected while the workers are busy.

Each probe user granted every consent-based purpose in the backlog. During the worker stage
the prober sends one withdrawal at a time, waits for Kafka's acknowledgement, and notes the
time; the latency of a withdrawal is from that acknowledgement to the moment its decision
(``pipeline.decisions.v1``, the record that says the withdrawal was applied to the user's
state) was sent by the worker (its Kafka timestamp). From then on no event of the user that
occurred after the withdrawal is kept (the consent fence guarantees it even earlier).
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.bench.refs import DecisionRefs
from pipeline.bench.watch import DecisionWatcher
from pipeline.bench.workload import Workload, consent_message

_ACK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Latency:
    """Withdrawal latencies, seconds."""

    probes: int
    measured: int
    p50_s: float | None
    p99_s: float | None
    max_s: float | None


def summarize(samples: list[float], probes: int) -> Latency:
    """p50, p99 and max of ``samples`` (None when there is none)."""
    if not samples:
        return Latency(probes, 0, None, None, None)
    ordered = sorted(samples)
    if len(ordered) == 1:
        return Latency(probes, 1, ordered[0], ordered[0], ordered[0])
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return Latency(probes, len(ordered), cuts[49], cuts[98], ordered[-1])


class WithdrawalProber:
    """Sends the workload's withdrawals, one every ``interval`` seconds, in a thread."""

    def __init__(self, producer: Any, topic: str, workload: Workload, interval: float,
                 purposes: list[str], refs: DecisionRefs) -> None:
        self._producer = producer
        self._refs = refs
        self._topic = topic
        self._workload = workload
        self._interval = interval
        self._purposes = purposes
        self.acked: dict[str, float] = {}
        """withdrawal's decision id -> wall-clock time Kafka acknowledged it."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="withdrawal-prober", daemon=True)
        self.error: BaseException | None = None

    @property
    def interval(self) -> float:
        """Seconds between two withdrawals."""
        return self._interval

    def start(self) -> None:
        """Begin sending."""
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait until every probe was sent (or ``timeout``)."""
        self._thread.join(timeout=timeout)

    def stop(self) -> None:
        """Stop sending (the probes not sent are not measured)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=_ACK_TIMEOUT_S)

    def _run(self) -> None:
        try:
            for user in self._workload.probes:
                if self._stop.wait(self._interval):
                    return
                self._send(user)
        except BaseException as exc:  # reported by the caller
            self.error = exc

    def _send(self, user: str) -> None:
        at = datetime.now(UTC)
        msg = consent_message(user, f"{user}-withdraw", at, dict.fromkeys(self._purposes, False),
                              self._workload.next_batch())
        future = self._producer.send(self._topic, key=msg.key, value=msg.value,
                                     timestamp_ms=msg.timestamp_ms)
        self._producer.flush(timeout=_ACK_TIMEOUT_S)
        future.get(timeout=_ACK_TIMEOUT_S)
        self.acked[self._refs.ref(f"{user}-withdraw", at)] = time.time()
        self._workload.withdrawals.append(msg)

    def latencies(self, watcher: DecisionWatcher) -> list[float]:
        """Seconds from each acknowledged withdrawal to its decision (decided ones only).

        The decision's time is its Kafka timestamp, set by the worker when it sent it (same
        host clock): how fast the harness reads the decisions back does not count.
        """
        return [max(0.0, watcher.stamped[i] / 1000 - t) for i, t in self.acked.items()
                if i in watcher.stamped]
