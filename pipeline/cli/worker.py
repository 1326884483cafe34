"""``privacy-pipeline worker``: run one faust worker of the consent processors."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from pipeline import preflight
from pipeline.cli.app import app, settings
from pipeline.cli.options import LOG_LEVEL_HELP, log_level, quiet_libraries
from pipeline.topics import TopicNames

_FAUST_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}


@app.command()
def worker(
    worker_id: Annotated[str | None, typer.Option(
        "--id", metavar="NAME",
        help="Worker name; its table files go to <data_dir>/worker-<id>. "
        "Env: PRIVACY_PIPELINE_WORKER_ID (default 1).")] = None,
    level: Annotated[str, typer.Option(
        "--log-level", "-l", metavar="LEVEL", envvar="PRIVACY_PIPELINE_WORKER_LOGLEVEL",
        help=f"{LOG_LEVEL_HELP} Env: PRIVACY_PIPELINE_WORKER_LOGLEVEL.")] = "warning",
    old_level: Annotated[str | None, typer.Option("--loglevel", hidden=True)] = None,
) -> None:
    """Run a processor worker; start several to share the partitions (consumer group).

    Checks first that the broker answers, every topic exists as `privacy-pipeline topics`
    creates it, and the keyring opens; otherwise says what to run and exits 1. The worker
    never creates a topic.
    """
    if worker_id is not None:
        os.environ["PRIVACY_PIPELINE_WORKER_ID"] = worker_id
    chosen = log_level(old_level or level)
    s = settings()  # a bad PRIVACY_PIPELINE_* value fails here, as one line
    from pipeline.policy import load_policy

    policy = load_policy(s.policy)
    specs = preflight.service_specs(s, policy.purposes)
    took = preflight.check(s, specs, policy.key_specs(), TopicNames.from_settings(s).worker_group)
    quiet_libraries(chosen)
    from pipeline.observe.ports import worker_port
    from pipeline.observe.server import serve_metrics
    from processors.worker import create_app
    from processors.worker.app import run_worker

    shell = create_app(s)
    metrics, group = shell.metrics, shell.app.conf.id
    metrics.info.labels(s.worker_id, group).set(1)
    serve_metrics(metrics.registry, metrics.liveness.check, s.metrics_host, worker_port(s),
                  f"worker {s.worker_id}")
    preflight.announce(
        f"worker {s.worker_id}: group {group} at {s.bootstrap_servers}, "
        f"{len(specs)} topics checked in {took:.2f} s, {len(policy.purposes)} purposes, "
        f"store {s.worker_store} in {s.data_dir / f'worker-{s.worker_id}'}"
    )
    run_worker(shell.app, _FAUST_LEVELS[chosen])
