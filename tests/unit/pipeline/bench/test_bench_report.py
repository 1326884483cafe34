"""Benchmark reports: derived figures, Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.bench.latency import summarize
from pipeline.bench.machine import Machine, describe
from pipeline.bench.report import Concurrent, Result, Stage, markdown, write


def _result(verified: bool = True) -> Result:
    stages = [Stage("produce", 1000, 0.5), Stage("workers", 1000, 2.0, cpu_s=1.5,
                                                 peak_rss_mb=150.0)]
    return Result(command="privacy-pipeline bench --events 1000", started_at="2026-11-26 10:00",
                  machine=Machine(2, "Test CPU", 8.0, "3.11.7", "4.1.1", "Linux"),
                  options={"events": 1000}, stages=stages,
                  end_to_end=Stage("end to end", 1000, 2.5, cpu_s=1.5),
                  ceiling=Stage("ceiling", 1000, 0.01), latency=summarize([0.1, 0.2, 0.3], 3),
                  verified=verified, differences=[] if verified else ["x"])


def test_rates_ratio_and_cpu_per_event() -> None:
    result = _result()
    assert result.stages[1].rate == 500.0
    assert result.stages[1].cpu_us_per_event == 1500.0
    assert result.ceiling_ratio == 400.0 / 100_000.0


def test_markdown_names_the_machine_the_figures_and_the_verdict(tmp_path: Path) -> None:
    text = markdown(_result())
    assert "2 CPUs (Test CPU), 8.0 GB RAM" in text and "Apache Kafka 4.1.1" in text
    assert "| workers | 1,000 | 2.0 | 500 | 1,500 | 150 |" in text
    assert "0.4%" in text and "p50 **0.200 s**" in text and "ground truth: **yes**" in text
    assert "ground truth: **NO** (1 differences" in markdown(_result(verified=False))
    write(_result(), tmp_path / "a" / "r.md", tmp_path / "b" / "r.json")
    data = json.loads((tmp_path / "b" / "r.json").read_text())
    assert data["stages"][1]["events_per_s"] == 500.0 and data["verified"] is True
    assert (tmp_path / "a" / "r.md").read_text() == text


def test_latency_percentiles() -> None:
    got = summarize([float(i) for i in range(1, 101)], 120)
    assert (got.probes, got.measured, got.max_s) == (120, 100, 100.0)
    assert got.p50_s == 50.5 and got.p99_s is not None and 99.0 <= got.p99_s <= 100.0
    assert summarize([], 5).p50_s is None
    assert summarize([0.3], 1).p99_s == 0.3


def test_machine_is_read_from_procfs(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text("processor : 0\nmodel name\t: Fancy CPU @ 3GHz\n")
    (tmp_path / "meminfo").write_text("MemTotal:       16384000 kB\n")
    machine = describe(tmp_path)
    assert machine.cpu_model == "Fancy CPU @ 3GHz" and machine.memory_gb == 15.6
    assert machine.kafka == "4.1.1"


def test_a_concurrent_run_reports_its_rate_lag_and_cpu_of_every_process() -> None:
    from pipeline.bench.run import concurrent_stages

    run = Concurrent(events=1000, produce_s=0.5, decided_s=2.0, sunk_s=2.5, lag_max=400,
                     lag_at_produce_end=300, cpu_producer_s=0.02, cpu_workers_s=0.06,
                     cpu_sink_s=0.02, peak_workers_mb=120.0, peak_sink_mb=90.0)
    assert run.rate == 500.0 and run.cpu_us_per_event == 100.0
    stages, total = concurrent_stages(run, 2)
    assert [s.cpu_s for s in stages] == [0.02, 0.06, 0.02] and "lag max 400" in stages[1].note
    assert total.seconds == 2.5 and total.cpu_us_per_event == 100.0
    result = _result()
    result.ceiling = Stage("ceiling", 1000, 0.01, cpu_s=0.02)
    result.concurrent = run
    text = markdown(result)
    assert "**500 events/s** sustained" in text and "lag at most 400 events" in text
    assert "every process: **100.0 µs** (workers 60.0 µs = 3.0× the ceiling's 20.0 µs)" in text
    assert "Concurrent" not in markdown(_result())
