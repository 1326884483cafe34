"""``privacy-pipeline simulate``: realistic insurer-app traffic to Kafka, plus its ground truth."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.cli.app import app, settings
from pipeline.kafka import make_producer
from pipeline.policy import load_policy
from pipeline.simulator.clock import check_span, default_hours, default_start
from pipeline.simulator.exceptions import SimulatorError
from pipeline.simulator.producer import produce
from pipeline.simulator.run import ground_truth, write_messages, write_truth
from pipeline.simulator.traffic import SimulationConfig, Traffic, generate
from pipeline.topics import TopicNames

_err = Console(stderr=True)

_HELP = (
    "Send realistic traffic of the insurer's mobile and web apps to Kafka and write its "
    "ground truth.\n\n"
    "Navigation, geolocation pings, consent answers (banner, TCF, GPC, withdrawals), rights "
    "requests and ~1 % malformed messages, deterministic for a seed and start. The ground "
    "truth (expected decisions and analyst tables before the k-threshold) is written as JSON.\n\n"
    "WARNING: next to it, <truth>.identifiers.json lists the RAW identifiers sent (user ids, "
    "device ids, IPs, precise coordinates). It is test material for leak scans: keep it private "
    "and never publish it."
)


def _start(raw: str | None, now: datetime, hours: int) -> datetime:
    if raw is None:
        return default_start(now, hours)
    try:
        start = datetime.fromisoformat(raw)
    except ValueError:
        raise SimulatorError(
            f"--start {raw!r} is not an ISO 8601 time; write e.g. 2026-04-01T08:00:00+00:00"
        ) from None
    check_span(start, hours, now)
    return start.astimezone(UTC)


def _produce(
    producer: Any, traffic: Traffic, rate: float | None, names: TopicNames, envelopes: bool = True
) -> None:
    columns = (TextColumn("producing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # PRIVACY_PIPELINE_TOPIC_PREFIX applies here as in every other process.
    topics = names.inputs_by_contract()
    with Progress(*columns, console=_err, transient=True) as bar:
        task = bar.add_task("produce", total=len(traffic.messages))
        produce(
            traffic,
            producer,
            topics=topics,
            rate=rate,
            progress=lambda n: bar.advance(task, n),
            envelopes=envelopes,
        )


def _generate(config: SimulationConfig, now: datetime) -> tuple[Traffic, dict[str, Any]]:
    traffic = generate(config)
    return traffic, ground_truth(traffic, load_policy(settings().policy), now)


@app.command("simulate", help=_HELP)
def simulate(
    users: Annotated[int, typer.Option(min=1, help="Number of simulated customers.")] = 1000,
    events: Annotated[int, typer.Option(min=1, help="Messages to send, in total.")] = 10000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and start, same bytes.")] = 0,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="At most this many events per second.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="Start of the simulated span (ISO 8601 with offset). "
            "Default: now rounded down to the hour minus the span."
        ),
    ] = None,
    hours: Annotated[
        int | None,
        typer.Option(
            min=1, max=144, help="Simulated span in hours (default: events / 2000, 3 to 144)."
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="Ground-truth JSON path. Default: <data_dir>/truth/simulate-<seed>.json."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do not use Kafka: write the messages to --out.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Dry-run output, one message per line (input of `validate`). "
            "Default: <data_dir>/simulate-<seed>.jsonl."
        ),
    ] = None,
    envelopes: Annotated[
        bool,
        typer.Option(
            "--envelopes/--no-envelopes",
            help="Send a user's events of one batch as one envelope, as the collector does "
            "(default), or every event as a message of its own, as a direct Kafka producer.",
        ),
    ] = True,
) -> None:
    """Send realistic insurer-app traffic to Kafka and write its ground truth (see --help)."""
    s = settings()
    now = datetime.now(UTC)
    span = hours or default_hours(events)
    config = SimulationConfig(users, events, seed, _start(start, now, span), span)
    # Connect first: a missing broker fails in seconds, before any generation work.
    producer = None if dry_run else make_producer(s, client_id="privacy-pipeline-simulate")
    began = time.monotonic()
    try:
        traffic, truth_doc = _generate(config, now)
        if producer is None:
            target = out or s.data_dir / f"simulate-{seed}.jsonl"
            write_messages(traffic.messages, target)
            where = f"written to {target}"
        else:
            _produce(producer, traffic, rate, TopicNames.from_settings(s), envelopes)
            where = f"produced to {s.bootstrap_servers}"
    finally:
        if producer is not None:
            producer.close(timeout=10)
    truth_path = truth or s.data_dir / "truth" / f"simulate-{seed}.json"
    ids = write_truth(truth_doc, traffic, truth_path)
    sent = ", ".join(f"{topic} {n}" for topic, n in truth_doc["sent"].items())
    malformed = sum(truth_doc["malformed"].values())
    typer.echo(
        f"{len(traffic.messages)} messages ({sent}; {malformed} malformed) {where} in "
        f"{time.monotonic() - began:.1f} s; ground truth: {truth_path} "
        f"(raw identifiers: {ids})"
    )
