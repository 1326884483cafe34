"""``privacy-pipeline bench``: measure the whole pipeline on the local broker, with evidence."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from pipeline.cli.app import app, settings

bench_app = typer.Typer(
    help="Benchmarks on the local broker (own topic prefix, removed afterwards): the whole "
    "pipeline (default), or the worker's memory with a large consent state (`bench memory`).",
    no_args_is_help=False,
)
app.add_typer(bench_app, name="bench")
_err = Console(stderr=True)


class RichReporter:
    """Shows each stage as a line of a rich progress display."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._name = ""

    def begin(self, name: str, total: int | None) -> None:
        """Add a line for the stage."""
        self._name = name
        self._task = self._progress.add_task(name, total=total)

    def update(self, completed: int) -> None:
        """Move the current line's bar."""
        if self._task is not None:
            self._progress.update(self._task, completed=completed)

    def end(self, summary: str) -> None:
        """Complete the current line with a summary."""
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, total=task.total or 1,
                                  completed=task.total or 1,
                                  description=f"{self._name}: {summary}")
            self._task = None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=_err)


def _outputs(markdown: Path | None, json_out: Path | None) -> tuple[Path, Path]:
    base = settings().data_dir / "bench"
    return markdown or base / "pipeline.md", json_out or base / "pipeline.json"


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    events: Annotated[int, typer.Option(min=1000, help="Simulated input events.")] = 500_000,
    users: Annotated[int, typer.Option(min=10, help="Simulated users.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Simulator seed (fixed: runs compare).")] = 20261126,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    probes: Annotated[int, typer.Option(min=1, help="Withdrawals injected during the load "
                                        "(consent-to-effect latency).")] = 100,
    markdown: Annotated[Path | None, typer.Option(
        help="Markdown report (default <data_dir>/bench/pipeline.md).")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="JSON report (default <data_dir>/bench/pipeline.json).")] = None,
    store: Annotated[str, typer.Option(
        help="Workers' table store: rocksdb:// (production default) or memory://.")
    ] = "rocksdb://",
    keep_files: Annotated[bool, typer.Option(
        help="Keep the run's data directory (worker tables, DuckDB files, logs).")] = False,
    concurrent: Annotated[bool, typer.Option(
        help="Run producer, workers and sink at the same time, as deployed: sustained "
             "events/s, lag and CPU per event of every process.")] = False,
    envelopes: Annotated[bool, typer.Option(
        help="Send a user's events of one batch as one envelope, as the collector does "
             "(default); --no-envelopes: one message per event.")] = True,
) -> None:
    """Measure produce → workers → sink → published aggregates against the raw ceiling."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.bench.report import markdown as render
    from pipeline.bench.report import write
    from pipeline.bench.run import Options, run_bench

    options = Options(events=events, users=users, seed=seed, workers=workers, probes=probes,
                      store=store, keep_files=keep_files, concurrent=concurrent,
                      envelopes=envelopes)
    md_path, json_path = _outputs(markdown, json_out)
    # `kill` (SIGTERM) must still stop the workers and delete the topics (finally blocks).
    signal.signal(signal.SIGTERM, _interrupt)
    with _progress() as progress:
        result = run_bench(settings(), options, RichReporter(progress))
    write(result, md_path, json_path)
    typer.echo(render(result))
    typer.echo(f"written: {md_path} and {json_path}")
    if not result.verified:
        raise typer.Exit(2)


@bench_app.command("memory")
def memory(
    users: Annotated[int, typer.Option(min=1, help="Users whose consent state is loaded.")
                     ] = 1_000_000,
    store: Annotated[str, typer.Option(
        help="Worker table store: rocksdb:// (production default) or memory://.")
    ] = "rocksdb://",
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="JSON result (default <data_dir>/bench/memory.json).")] = None,
) -> None:
    """Resident memory of one worker holding the consent state of USERS users."""
    import dataclasses
    import json
    import tempfile

    from pipeline.bench.memory import run_memory
    from pipeline.bench.sandbox import Sandbox

    signal.signal(signal.SIGTERM, _interrupt)
    box = Sandbox(settings(), Path(tempfile.mkdtemp(prefix="privacy-pipeline-bench-")),
                  store=store)
    try:
        box.setup()
        with _progress() as progress:
            result = run_memory(box, users, RichReporter(progress))
    finally:
        box.cleanup()
    path = json_out or settings().data_dir / "bench" / "memory.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataclasses.asdict(result), indent=1) + "\n", encoding="utf-8")
    typer.echo(f"{users:,} users ({store}): loaded in {result.load_s:,.0f} s; worker RSS "
               f"{result.rss_mb:,.0f} MB after the load, peak {result.peak_rss_mb:,.0f} MB; "
               f"table files {result.disk_mb:,.0f} MB; {result.verified} sampled users decided "
               f"from their stored consent; written: {path}")
