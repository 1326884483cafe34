"""``privacy-pipeline demo``: the main job end to end on one machine, then the report."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from pipeline.cli.app import app, settings
from pipeline.demo import DemoOptions, DemoResult, Interrupted, run_demo

_D = DemoOptions()


def _print_report(console: Console, result: DemoResult) -> None:
    from pipeline.report.queries import open_analytics, summarize
    from pipeline.report.terminal import render_summary

    conn = open_analytics(result.analytics)
    try:
        summary = summarize(conn, result.analytics)
    finally:
        conn.close()
    render_summary(summary, console)
    console.print(f"end to end: {result.messages:,} events in {result.seconds:.1f} s = "
                  f"{result.rate:,.0f} events/s (first produce → analytics.duckdb published)")


@app.command("demo")
def demo(
    users: Annotated[int, typer.Option(min=1, help="Simulated customers.")] = _D.users,
    events: Annotated[int, typer.Option(min=1, help="Messages to simulate.")] = _D.events,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = _D.seed,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes to start.")] = _D.workers,
    timeout: Annotated[float, typer.Option(
        min=1.0, metavar="SECONDS",
        help="Bound on the wait for workers and sink after the last message.")] = _D.timeout_s,
) -> None:
    """Start the broker (unless one answers), topics, keys, workers and sink; simulate traffic;
    wait until everything is decided and stored; publish analytics.duckdb; print the report.

    Ctrl-C stops everything the demo started (and nothing else). Logs: <data_dir>/logs.
    Exit status: 0 done, 1 error (one line), 130 Ctrl-C, 143 SIGTERM.
    """
    console = Console(highlight=False)
    options = DemoOptions(users, events, seed, workers, timeout)
    try:
        run_demo(settings(), options, console,
                 on_published=lambda result: _print_report(console, result))
    except Interrupted as stop:
        typer.echo("privacy-pipeline demo: interrupted; stopped what it had started", err=True)
        raise typer.Exit(128 + stop.signum) from None
