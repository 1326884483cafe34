"""``privacy-pipeline broker start|stop|status``: the local single-node Kafka broker."""

from __future__ import annotations

import typer

from pipeline import broker as local_broker
from pipeline.cli.app import app, settings

broker_app = typer.Typer(
    help="Local Apache Kafka broker (KRaft, one node) for development and tests. "
    "Listens on the port of PRIVACY_PIPELINE_BOOTSTRAP_SERVERS (controller on port+1); "
    "files under PRIVACY_PIPELINE_DATA_DIR/kafka.",
    no_args_is_help=True,
)
app.add_typer(broker_app, name="broker")

#: ``status`` exit code when the broker is not running (LSB convention for "program not running").
EXIT_STOPPED = 3


@broker_app.command("start")
def start() -> None:
    """Start the broker (fetching the Kafka jars on first use) and wait until it answers.

    Starting twice is a no-op that reports the running broker.
    """
    state = local_broker.start(settings(), notify=lambda line: typer.echo(line, err=True))
    if state.started:
        typer.echo(
            f"broker started: pid {state.pid} at {state.address}, "
            f"answering after {state.seconds:.1f} s (data: {state.data_dir})"
        )
    else:
        typer.echo(f"broker already running: pid {state.pid} at {state.address}")


@broker_app.command("stop")
def stop() -> None:
    """Stop the broker this data dir started (SIGTERM, then SIGKILL after the wait bound)."""
    state = local_broker.stop(settings())
    if state.pid is None:
        typer.echo(f"broker not running (data: {state.data_dir})")
    else:
        typer.echo(f"broker stopped: pid {state.pid} at {state.address}")


@broker_app.command("status")
def status() -> None:
    """Print whether the broker runs (exit 0) or not (exit 3)."""
    state = local_broker.status(settings())
    if state.running:
        answer = "answering" if state.answering else "not answering yet"
        typer.echo(
            f"running: pid {state.pid} at {state.address}, {answer} (data: {state.data_dir})"
        )
        return
    if state.answering:
        typer.echo(
            f"stopped: no broker of this data dir ({state.data_dir}); "
            f"another broker answers at {state.address}"
        )
    else:
        typer.echo(f"stopped: nothing answers at {state.address} (data: {state.data_dir})")
    raise typer.Exit(EXIT_STOPPED)
