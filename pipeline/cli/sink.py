"""``privacy-pipeline sink``: aggregates from the sanitized topics into DuckDB, exactly once."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer

from pipeline import preflight
from pipeline.cli.app import app, settings
from pipeline.cli.options import LOG_LEVEL_HELP, log_level, quiet_libraries

sink_app = typer.Typer(
    help="Write aggregates of the sanitized topics to <data_dir>/pipeline.duckdb and publish "
    "analytics.duckdb (k-thresholded or dp per the policy, read-only for analysts) in "
    "PRIVACY_PIPELINE_ANALYTICS_DIR.",
    no_args_is_help=False,
)
app.add_typer(sink_app, name="sink")


def _policy() -> Any:
    from pipeline.policy import load_policy

    return load_policy(settings().policy)


def _install_stop(stop: threading.Event) -> None:
    def handler(signum: int, frame: object) -> None:
        # Finish the batch in flight, publish, exit 0.
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # kafka-python narrates every connection at INFO (every fetch at DEBUG); the sink's own
    # lines are the useful ones.
    quiet_libraries(level)


@sink_app.callback(invoke_without_command=True)
def sink(
    ctx: typer.Context,
    shard: Annotated[str | None, typer.Option(
        "--shard", help="INDEX/COUNT: run shard INDEX of COUNT (partitions p % COUNT == INDEX). "
        "Env: PRIVACY_PIPELINE_SINK_SHARD (default 0/1).")] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Stop once caught up with the topics, after a final publication.")] = False,
    until_idle: Annotated[float | None, typer.Option(
        "--until-idle", metavar="SECONDS",
        help="Stop after SECONDS without new records, after a final publication.")] = None,
    level: Annotated[str, typer.Option(
        "--log-level", metavar="LEVEL", help=LOG_LEVEL_HELP)] = "info",
) -> None:
    """Run the sink (one shard) until SIGTERM or Ctrl-C, --once or --until-idle."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.observe.ports import sink_port
    from pipeline.observe.server import serve_metrics
    from pipeline.sink.config import ShardSpec, sink_config
    from pipeline.sink.metrics import SinkMetrics
    from pipeline.sink.service import run_sink

    chosen = log_level(level)
    current = settings()
    policy = _policy()
    config = sink_config(current, policy, ShardSpec.parse(shard) if shard else None)
    names = config.topics.all()
    took = preflight.check(current, preflight.service_specs(current, policy.purposes, names))
    _logging(chosen)
    preflight.announce(
        f"sink shard {config.shard}: {len(names)} topics at {current.bootstrap_servers} "
        f"checked in {took:.2f} s; writes {config.analytics_path}"
    )
    stop = threading.Event()
    _install_stop(stop)
    metrics = SinkMetrics(str(config.shard), config.topics.decisions)
    server = serve_metrics(metrics.registry, metrics.liveness.check, current.metrics_host,
                           sink_port(current, config.shard.index), f"sink shard {config.shard}")
    try:
        stats = run_sink(current, policy, config, stop, until_idle=until_idle, once=once,
                         metrics=metrics)
    finally:
        if server is not None:
            server.stop()
    typer.echo(f"sink shard {config.shard}: {stats.records} records ({stats.new_records} new, "
               f"{stats.duplicates} duplicates, {stats.rejected} rejected) in "
               f"{stats.batches} batches; {config.analytics_path} published")


@sink_app.command("publish")
def publish(
    shards: Annotated[int | None, typer.Option(
        "--shards", min=1, help="Shard count of the sink (default: COUNT of "
        "PRIVACY_PIPELINE_SINK_SHARD).")] = None,
) -> None:
    """Merge the shards' aggregates and publish analytics.duckdb now."""
    from pipeline.sink.config import ShardSpec
    from pipeline.sink.publish import publish_offline
    from pipeline.sink.target import AnalyticsTarget

    current = settings()
    count = shards or ShardSpec.parse(current.sink_shard).count
    policy = _policy()
    target = AnalyticsTarget.from_settings(current)
    publish_offline(current.data_dir, count, policy.k_threshold, policy.publication,
                    analytics=target)
    typer.echo(f"published {target.path} from {count} shard(s)")
