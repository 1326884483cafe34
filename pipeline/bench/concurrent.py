"""``bench --concurrent``: producer, workers and sink at the same time, as deployed.

The workers and the sink start first; the traffic is then produced as fast as Kafka takes it
while withdrawals probe consent-to-effect latency. The figures: the sustained rate (first
produce to last decision, and to the sink's last write), the lag (events Kafka acknowledged
that no worker decided yet, sampled every 0.25 s), and CPU per event of every process of the
pipeline, the load generator included. The raw ceiling is then measured on the same topics.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.bench.exceptions import BenchError
from pipeline.bench.latency import Latency, WithdrawalProber, summarize
from pipeline.bench.procstats import Sampler, memory, reap, thread_cpu_s
from pipeline.bench.refs import DecisionRefs
from pipeline.bench.report import Concurrent
from pipeline.bench.sandbox import Sandbox
from pipeline.bench.stages import STALL_S, Reporter, alive_check, wait_first
from pipeline.bench.watch import DecisionWatcher
from pipeline.bench.workload import Workload
from pipeline.kafka import make_producer
from pipeline.simulator import produce

SINK_IDLE_S = 10.0
"""The sink exits after this long without records: after the last decision."""
LAG_EVERY_S = 0.25


class LagSampler:
    """Samples (produced − decided) in a thread: the events waiting for a worker."""

    def __init__(self, produced: Callable[[], int], watcher: DecisionWatcher) -> None:
        self._produced, self._watcher = produced, watcher
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._thread.start()

    @property
    def native_id(self) -> int | None:
        """The sampling thread's kernel id (its CPU is not the pipeline's)."""
        return self._thread.native_id

    def now(self) -> int:
        """The lag at this instant."""
        return max(0, self._produced() - self._watcher.decided())

    def _run(self) -> None:
        while not self._stop.wait(LAG_EVERY_S):
            self.samples.append(self.now())

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(timeout=5)


class LoadCpu:
    """CPU this process spends on the load (producer, prober), not on measuring it."""

    def __init__(self, *measuring: int | None) -> None:
        self._threads = [t for t in measuring if t is not None]
        self._start = self._now()

    def _now(self) -> float:
        return time.process_time() - sum(thread_cpu_s(t) for t in self._threads)

    def spent(self) -> float:
        """Seconds of load-generation CPU since this object was made."""
        return self._now() - self._start


@dataclass
class _Run:
    """One concurrent run in progress: its processes and observers."""

    box: Sandbox
    work: Workload
    watcher: DecisionWatcher
    producer: Any
    workers: list[subprocess.Popen[bytes]]
    samplers: list[Sampler]
    sink: subprocess.Popen[bytes] | None = None
    sink_sampler: Sampler | None = None


def concurrent_stage(box: Sandbox, work: Workload, reporter: Reporter, count: int,
                     timeout: float, probe_interval: float,
                     purposes: list[str]) -> tuple[Concurrent, Latency]:
    """Run producer, ``count`` workers and the sink at once; see the module docstring."""
    refs = DecisionRefs(box.settings)
    ids = refs.of_values(m.value for m in work.messages() if m.malformed is None)
    with DecisionWatcher(box.settings, box.names.decisions) as watcher:
        run = _start(box, work, watcher, count)
        prober = WithdrawalProber(run.producer, box.names.consent, work, probe_interval,
                                  purposes, refs)
        try:
            alive = alive_check(box, run.workers)
            wait_first(watcher, alive)  # the workers joined and decide the grants
            _start_sink(run)
            load = _load(run, reporter, prober)
            watcher.wait(ids | set(prober.acked), work.invalid_count(), timeout, alive,
                         stall_s=STALL_S)
            _check_sink_ran(run)
        finally:
            prober.stop()
            run.producer.close(timeout=10)
        latency = summarize(prober.latencies(watcher), len(work.probes))
        decided_at = watcher.last_at or time.monotonic()
    return _finish(run, load, decided_at, timeout), latency


def _start(box: Sandbox, work: Workload, watcher: DecisionWatcher, count: int) -> _Run:
    workers = [box.start("worker", "--id", str(i), log_name=f"worker-{i}")
               for i in range(1, count + 1)]
    producer = make_producer(box.settings, linger_ms=50, batch_size=512 * 1024)
    for msg in work.grants:
        producer.send(box.names.consent, key=msg.key, value=msg.value)
    producer.flush(timeout=60)
    return _Run(box, work, watcher, producer, workers, [Sampler(p.pid) for p in workers])


def _check_sink_ran(run: _Run) -> None:
    """The sink must not have gone idle before the last decision (it would miss records)."""
    assert run.sink is not None  # noqa: S101 - started before the load
    if memory(run.sink.pid) is None:  # exited (a zombie has no memory figures)
        raise BenchError(f"the sink went idle for {SINK_IDLE_S:.0f} s before the workers "
                         "decided everything: " + run.box.log_tail("sink", 400))


def _start_sink(run: _Run) -> None:
    run.sink = run.box.start("sink", "--until-idle", str(SINK_IDLE_S), "--log-level",
                             "warning", log_name="sink")
    run.sink_sampler = Sampler(run.sink.pid, interval=0.2)


@dataclass(frozen=True)
class _Load:
    t0: float
    produced_at: float
    lag_max: int
    lag_at_produce_end: int
    cpu_s: float


def _load(run: _Run, reporter: Reporter, prober: WithdrawalProber) -> _Load:
    """Produce the traffic while probing (monotonic times)."""
    work = run.work
    reporter.begin("concurrent: produce → workers → sink", work.size)
    sent = [len(work.grants)]

    def advance(n: int) -> None:
        sent[0] += n
        reporter.update(sent[0])

    lag = LagSampler(lambda: sent[0], run.watcher)
    cpu = LoadCpu(run.watcher.native_id, lag.native_id)
    t0 = time.monotonic()
    prober.start()
    try:
        produce(work.traffic, run.producer, topics=run.box.names.inputs_by_contract(),
                progress=advance, envelopes=work.envelopes)
        produced_at, at_end = time.monotonic(), lag.now()
        prober.join(timeout=prober.interval * len(work.probes) + 60)
    finally:
        lag.stop()
    reporter.end(f"produced in {produced_at - t0:,.1f} s, lag then {at_end:,} events")
    return _Load(t0, produced_at, max([*lag.samples, at_end]), at_end, cpu.spent())


def _finish(run: _Run, load: _Load, decided_at: float, timeout: float) -> Concurrent:
    """Wait for the sink to go idle, stop the workers, and add up what everyone used."""
    assert run.sink is not None and run.sink_sampler is not None  # noqa: S101 - started
    sink = reap(run.sink, timeout)
    sunk_at = time.monotonic() - SINK_IDLE_S
    run.sink_sampler.stop()
    if sink.returncode != 0:
        raise BenchError(f"the sink exited with status {sink.returncode}: "
                         + run.box.log_tail("sink", 800))
    for sampler in run.samplers:
        sampler.sample()
        sampler.stop()
    workers = [run.box.stop(p) for p in run.workers]
    return Concurrent(
        events=run.work.size, produce_s=load.produced_at - load.t0,
        decided_s=decided_at - load.t0, sunk_s=max(decided_at, sunk_at) - load.t0,
        lag_max=load.lag_max, lag_at_produce_end=load.lag_at_produce_end,
        cpu_producer_s=load.cpu_s, cpu_workers_s=sum(u.cpu_s for u in workers),
        cpu_sink_s=sink.cpu_s, peak_workers_mb=max(s.peak_mb for s in run.samplers),
        peak_sink_mb=run.sink_sampler.peak_mb)
