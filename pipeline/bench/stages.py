"""The measured stages of one bench run: produce, raw ceiling, workers, sink, verification.

Stages run one after the other on the whole backlog, so each figure is that stage's own
throughput on this machine; the end-to-end figure is the sum of the pipeline's stages
(produce → workers → sink → published), a conservative bound for a pipelined deployment.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pipeline.bench import ceiling
from pipeline.bench.compare import (
    differences,
    from_truth,
    publication_differences,
    read_partials_at,
    read_published,
)
from pipeline.bench.exceptions import BenchError, StageTimeout
from pipeline.bench.latency import Latency, WithdrawalProber, summarize
from pipeline.bench.procstats import Sampler, Usage, reap
from pipeline.bench.refs import DecisionRefs
from pipeline.bench.report import Stage
from pipeline.bench.sandbox import Sandbox
from pipeline.bench.watch import DecisionWatcher
from pipeline.bench.workload import Workload
from pipeline.kafka import make_producer
from pipeline.policy import Policy
from pipeline.simulator import produce

SINK_IDLE_S = 2.0
_FIRST_DECISION_S = 120.0
#: A worker stage fails when no new decision arrived for this long (a hung worker group).
STALL_S = 180.0


class Reporter(Protocol):
    """Progress display of the stages (a rich progress bar on the command line)."""

    def begin(self, name: str, total: int | None) -> None:
        """A stage starts; ``total`` units of work if known."""

    def update(self, completed: int) -> None:
        """Units done so far in the current stage."""

    def end(self, summary: str) -> None:
        """The current stage is over."""


def produce_stage(box: Sandbox, workload: Workload, reporter: Reporter) -> Stage:
    """Send the probes' grants, then the simulated traffic, acknowledged batch by batch."""
    reporter.begin("produce", workload.size)
    producer = make_producer(box.settings, linger_ms=50, batch_size=512 * 1024)
    sent = 0

    def advance(n: int) -> None:
        nonlocal sent
        sent += n
        reporter.update(sent)

    start, cpu = time.perf_counter(), time.process_time()
    try:
        for msg in workload.grants:
            producer.send(box.names.consent, key=msg.key, value=msg.value)
        producer.flush(timeout=60)
        advance(len(workload.grants))
        produce(workload.traffic, producer, topics=box.names.inputs_by_contract(),
                progress=advance, envelopes=workload.envelopes)
    finally:
        producer.close(timeout=30)
    stage = Stage("produce (kafka-python, acks=all)", workload.size, time.perf_counter() - start,
                  cpu_s=time.process_time() - cpu)
    reporter.end(f"{stage.rate:,.0f} events/s")
    return stage


def ceiling_stage(box: Sandbox, workload: Workload, reporter: Reporter, timeout: float) -> Stage:
    """Plain consume and decode of the input topics (no processing)."""
    reporter.begin("raw ceiling", workload.size)
    cpu = time.process_time()
    got = ceiling.measure(box.settings, list(box.names.inputs), timeout, reporter.update)
    stage = Stage("raw ceiling: consume + decode", got.messages, got.seconds,
                  cpu_s=time.process_time() - cpu)
    reporter.end(f"{stage.rate:,.0f} events/s")
    return stage


def alive_check(box: Sandbox, procs: list[subprocess.Popen[bytes]]) -> Callable[[], str | None]:
    """Why the run can no longer finish (a worker exited), else None."""
    def check() -> str | None:
        for i, proc in enumerate(procs, 1):
            if proc.poll() is not None:
                return f"worker {i} exited with status {proc.returncode}: " + \
                    box.log_tail(f"worker-{i}", 800)
        return None

    return check


def workers_stage(box: Sandbox, workload: Workload, reporter: Reporter, count: int,
                  timeout: float, probe_interval: float,
                  purposes: list[str]) -> tuple[Stage, Latency]:
    """Start ``count`` workers on the backlog, inject withdrawals, wait for every decision."""
    reporter.begin(f"workers ×{count}", workload.size)
    refs = DecisionRefs(box.settings)  # decisions carry keyed ids, never the raw event_id
    ids = refs.of_values(m.value for m in workload.messages() if m.malformed is None)
    invalid = workload.invalid_count()
    with DecisionWatcher(box.settings, box.names.decisions) as watcher:
        start = time.perf_counter()
        procs = [box.start("worker", "--id", str(i), log_name=f"worker-{i}")
                 for i in range(1, count + 1)]
        samplers = [Sampler(p.pid) for p in procs]
        alive = alive_check(box, procs)
        producer = make_producer(box.settings, linger_ms=0)
        prober = WithdrawalProber(producer, box.names.consent, workload, probe_interval, purposes,
                                  refs)
        try:
            wait_first(watcher, alive)
            prober.start()
            watcher.wait(ids, invalid, timeout, alive, reporter.update, stall_s=STALL_S)
            seconds = time.perf_counter() - start
            busy = (watcher.last_at or 0.0) - (watcher.first_at or 0.0)  # the backlog only
            prober.join(timeout=probe_interval * len(workload.probes) + 60)
            watcher.wait(ids | set(prober.acked), invalid, 120.0, alive)
        finally:
            prober.stop()
            producer.close(timeout=10)
        latency = summarize(prober.latencies(watcher), len(workload.probes))
    peaks = [_last_peak(sampler) for sampler in samplers]
    usages = [box.stop(p) for p in procs]
    stage = _workers_figure(count, workload.size, seconds, busy, usages, max(peaks))
    reporter.end(f"{stage.rate:,.0f} events/s")
    return stage, latency


def wait_first(watcher: DecisionWatcher, alive: Callable[[], str | None]) -> None:
    """Wait (bounded) until a worker decided something: the group has joined."""
    deadline = time.monotonic() + _FIRST_DECISION_S
    while watcher.decided() == 0:
        why = alive()
        if why is not None or time.monotonic() > deadline:
            raise StageTimeout(f"no worker decided anything within {_FIRST_DECISION_S:.0f} s"
                               + (f": {why}" if why else ""))
        time.sleep(0.1)


def _last_peak(sampler: Sampler) -> float:
    sampler.sample()
    sampler.stop()
    return sampler.peak_mb


def _workers_figure(count: int, events: int, seconds: float, busy: float,
                    usages: list[Usage], peak_mb: float) -> Stage:
    note = (f"first to last decision {busy:,.1f} s = {events / busy:,.0f} events/s; "
            f"rest is start-up" if busy > 0 else "")
    return Stage(f"workers ×{count} (decide, pseudonymise, encrypt)", events, seconds,
                 cpu_s=sum(u.cpu_s for u in usages),
                 peak_rss_mb=peak_mb, note=note)


def sink_stage(box: Sandbox, events: int, reporter: Reporter, timeout: float) -> Stage:
    """Run the sink until idle: everything aggregated, committed and published."""
    reporter.begin("sink", None)
    start = time.perf_counter()
    proc = box.start("sink", "--until-idle", str(SINK_IDLE_S), "--log-level", "warning",
                     log_name="sink")
    sampler = Sampler(proc.pid, interval=0.2)
    try:
        usage = reap(proc, timeout)
    finally:
        sampler.stop()
    seconds = time.perf_counter() - start - SINK_IDLE_S
    if usage.returncode != 0:
        raise BenchError(f"the sink exited with status {usage.returncode}: "
                         + box.log_tail("sink", 800))
    found = re.search(r"(\d+) records", box.log_tail("sink", 4000))
    note = f"{int(found.group(1)):,} records from the workers" if found else ""
    stage = Stage("sink (aggregate, commit, publish)", events, seconds, usage.cpu_s,
                  sampler.peak_mb, note)
    reporter.end(f"{stage.rate:,.0f} events/s")
    return stage


def verify_stage(box: Sandbox, workload: Workload, policy: Policy,
                 reporter: Reporter) -> tuple[list[str], dict[str, Any]]:
    """Compare the sink's aggregates and analytics.duckdb with the oracle's truth."""
    reporter.begin("verify against the ground truth", None)
    truth = workload.truth(policy, datetime.now(UTC))
    expected = from_truth(truth["tables"])
    diffs = differences(expected, read_partials_at(box.data_dir))
    published = read_published(box.analytics_path)
    diffs += publication_differences(expected, published, policy.k_threshold)
    reporter.end("equal" if not diffs else f"{len(diffs)} differences")
    return diffs, truth["decisions"]
