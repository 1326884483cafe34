"""``privacy-pipeline bench``: one measured run of the whole pipeline on the local broker."""

from __future__ import annotations

import shlex
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.bench import workload as wl
from pipeline.bench.concurrent import concurrent_stage
from pipeline.bench.latency import Latency
from pipeline.bench.machine import describe
from pipeline.bench.report import Concurrent, Result, Stage
from pipeline.bench.sandbox import Sandbox
from pipeline.bench.stages import (
    Reporter,
    ceiling_stage,
    produce_stage,
    sink_stage,
    verify_stage,
    workers_stage,
)
from pipeline.policy import load_policy
from pipeline.settings import Settings


@dataclass(frozen=True)
class Options:
    """What to run."""

    events: int = 500_000
    users: int = 50_000
    seed: int = 20261126
    workers: int = 2
    probes: int = 100
    probe_interval_s: float = 0.25
    stage_timeout_s: float = 3600.0
    store: str = "rocksdb://"
    keep_files: bool = False
    concurrent: bool = False
    """Producer, workers and sink at once (as deployed) instead of stage by stage."""
    envelopes: bool = True
    """A user's events of a batch in one envelope, as the collector sends them."""


def run_bench(settings: Settings, options: Options, reporter: Reporter) -> Result:
    """Run every stage in a sandbox on the broker of ``settings``; always cleans up.

    Raises:
        BenchError: a stage failed or timed out (processes are stopped, topics deleted).
    """
    policy = load_policy(settings.policy)
    purposes = sorted(p.name for p in policy.purposes.values() if p.consent_required)
    data_dir = Path(tempfile.mkdtemp(prefix="privacy-pipeline-bench-"))
    box = Sandbox(settings, data_dir, store=options.store)
    started = datetime.now(UTC)
    try:
        reporter.begin("set up topics and keys", None)
        box.setup()
        reporter.end(box.prefix)
        reporter.begin("generate the workload", None)
        t0 = time.perf_counter()
        work = wl.build(options.events, options.users, options.seed, started, options.probes,
                        purposes)
        work.envelopes = options.envelopes
        reporter.end(f"{work.size:,} messages in {time.perf_counter() - t0:.1f} s")
        if options.concurrent:
            together, latency = concurrent_stage(box, work, reporter, options.workers,
                                                 options.stage_timeout_s,
                                                 options.probe_interval_s, purposes)
            stages, total = concurrent_stages(together, options.workers)
            raw = ceiling_stage(box, work, reporter, options.stage_timeout_s)
        else:
            together = None
            stages, raw, latency = _sequential(box, work, reporter, options, purposes)
            total = Stage("end to end (produce → workers → sink → published)", work.size,
                          sum(s.seconds for s in stages),
                          cpu_s=sum(s.cpu_s or 0.0 for s in stages))
        diffs, outcomes = verify_stage(box, work, policy, reporter)
    finally:
        box.cleanup(keep_files=options.keep_files)
    return Result(
        command=" ".join(shlex.quote(a) for a in ["privacy-pipeline", *sys.argv[1:]]),
        started_at=started.strftime("%Y-%m-%d %H:%M UTC"),
        machine=describe(),
        options=asdict(options),
        stages=stages,
        end_to_end=total,
        ceiling=raw,
        latency=latency,
        verified=not diffs,
        differences=diffs,
        outcomes=outcomes,
        concurrent=together,
    )


def _sequential(box: Sandbox, work: wl.Workload, reporter: Reporter, options: Options,
                purposes: list[str]) -> tuple[list[Stage], Stage, Latency]:
    """Each stage on the whole backlog, one after the other: (stages, ceiling, latency)."""
    produced = produce_stage(box, work, reporter)
    raw = ceiling_stage(box, work, reporter, options.stage_timeout_s)
    workers, latency = workers_stage(box, work, reporter, options.workers,
                                     options.stage_timeout_s, options.probe_interval_s,
                                     purposes)
    sink = sink_stage(box, work.size, reporter, options.stage_timeout_s)
    return [produced, workers, sink], raw, latency


def concurrent_stages(run: Concurrent, workers: int) -> tuple[list[Stage], Stage]:
    """A concurrent run as the report's stages (each from the first message produced)."""
    lag = f"lag max {run.lag_max:,} events, {run.lag_at_produce_end:,} when produced"
    stages = [
        Stage("concurrent: produce (kafka-python, acks=all)", run.events, run.produce_s,
              cpu_s=run.cpu_producer_s),
        Stage(f"concurrent: workers ×{workers}, to the last decision", run.events,
              run.decided_s, cpu_s=run.cpu_workers_s, peak_rss_mb=run.peak_workers_mb,
              note=lag),
        Stage("concurrent: sink, to its last write", run.events, run.sunk_s,
              cpu_s=run.cpu_sink_s, peak_rss_mb=run.peak_sink_mb),
    ]
    total = Stage("end to end, concurrent (all processes, load generator included)",
                  run.events, run.sunk_s,
                  cpu_s=run.cpu_producer_s + run.cpu_workers_s + run.cpu_sink_s)
    return stages, total
