"""Benchmark results: the figures of one run, as JSON and as Markdown."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.bench.latency import Latency
from pipeline.bench.machine import Machine


@dataclass(frozen=True)
class Stage:
    """One stage: how many input events it handled, in how long, with what resources."""

    name: str
    events: int
    seconds: float
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        """Input events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_event(self) -> float | None:
        """CPU microseconds per input event."""
        return None if self.cpu_s is None or not self.events else self.cpu_s / self.events * 1e6


@dataclass(frozen=True)
class Concurrent:
    """What one concurrent run measured; times in seconds from the first message produced."""

    events: int
    produce_s: float
    decided_s: float
    sunk_s: float
    lag_max: int
    lag_at_produce_end: int
    cpu_producer_s: float
    cpu_workers_s: float
    cpu_sink_s: float
    peak_workers_mb: float
    peak_sink_mb: float

    @property
    def rate(self) -> float:
        """Sustained events/s: every event produced and decided."""
        return self.events / self.decided_s if self.decided_s > 0 else 0.0

    @property
    def cpu_us_per_event(self) -> float:
        """CPU µs per event over every process (load generator, workers, sink)."""
        total = self.cpu_producer_s + self.cpu_workers_s + self.cpu_sink_s
        return total / self.events * 1e6 if self.events else 0.0


@dataclass
class Result:
    """Everything one ``privacy-pipeline bench`` run measured."""

    command: str
    started_at: str
    machine: Machine
    options: dict[str, Any]
    stages: list[Stage]
    end_to_end: Stage
    ceiling: Stage
    latency: Latency
    verified: bool
    differences: list[str] = field(default_factory=list)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    concurrent: Concurrent | None = None
    """The lag and rates of a ``--concurrent`` run (None: stage by stage)."""

    @property
    def ceiling_ratio(self) -> float:
        """End-to-end events/s over the raw ceiling's events/s."""
        return self.end_to_end.rate / self.ceiling.rate if self.ceiling.rate else 0.0

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stages with their derived rates)."""
        def stage(s: Stage) -> dict[str, Any]:
            return {**dataclasses.asdict(s), "events_per_s": round(s.rate, 1),
                    "cpu_us_per_event": _round(s.cpu_us_per_event)}

        out = dataclasses.asdict(self)
        out["stages"] = [stage(s) for s in self.stages]
        out["end_to_end"], out["ceiling"] = stage(self.end_to_end), stage(self.ceiling)
        out["ceiling_ratio"] = round(self.ceiling_ratio, 4)
        return out


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _cell(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def markdown(result: Result) -> str:
    """The result as a Markdown section (figures, machine, command)."""
    m, lat = result.machine, result.latency
    lines = [
        f"Measured {result.started_at} with `{result.command}`.",
        "",
        f"Machine: {m.cpus} CPUs ({m.cpu_model}), {m.memory_gb} GB RAM, {m.os}, "
        f"Python {m.python}, Apache Kafka {m.kafka} (local single-node KRaft broker).",
        "",
        "| stage | input events | seconds | events/s | CPU µs/event | peak RSS MB | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in [*result.stages, result.end_to_end, result.ceiling]:
        lines.append(f"| {s.name} | {s.events:,} | {s.seconds:,.1f} | {s.rate:,.0f} | "
                     f"{_cell(s.cpu_us_per_event)} | {_cell(s.peak_rss_mb)} | {s.note} |")
    lines += [
        "",
        f"- End to end / raw ceiling: **{result.ceiling_ratio:.1%}** "
        f"({result.end_to_end.rate:,.0f} vs {result.ceiling.rate:,.0f} events/s).",
        f"- Consent-to-effect latency ({lat.measured} of {lat.probes} withdrawals during the "
        f"load): p50 **{_cell(lat.p50_s, '{:.3f}')} s**, p99 **{_cell(lat.p99_s, '{:.3f}')} s**, "
        f"max {_cell(lat.max_s, '{:.3f}')} s.",
        *_concurrent_lines(result),
        f"- Published aggregates equal the ground truth: **{'yes' if result.verified else 'NO'}**"
        + ("" if result.verified else f" ({len(result.differences)} differences, see JSON)."),
    ]
    return "\n".join(lines) + "\n"


def _concurrent_lines(result: Result) -> list[str]:
    run = result.concurrent
    if run is None:
        return []
    ceiling = result.ceiling.cpu_us_per_event or 0.0
    workers = run.cpu_workers_s / run.events * 1e6 if run.events else 0.0
    return [
        f"- Concurrent, as deployed: **{run.rate:,.0f} events/s** sustained (produce to last "
        f"decision), {run.rate / result.ceiling.rate:.1%} of the ceiling; lag at most "
        f"{run.lag_max:,} events.",
        f"- CPU per event, every process: **{run.cpu_us_per_event:,.1f} µs** (workers "
        f"{workers:,.1f} µs = {workers / ceiling if ceiling else 0:.1f}× the ceiling's "
        f"{ceiling:,.1f} µs).",
    ]


def write(result: Result, markdown_path: Path, json_path: Path) -> None:
    """Write both reports (directories created as needed)."""
    for path in (markdown_path, json_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(markdown(result), encoding="utf-8")
    json_path.write_text(json.dumps(result.as_json(), indent=1) + "\n", encoding="utf-8")
