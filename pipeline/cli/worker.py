"""``privacy-pipeline worker``: run one faust worker of the consent processors."""

from __future__ import annotations

import os

import typer

from pipeline.cli.app import app, settings


@app.command()
def worker(
    worker_id: str = typer.Option(
        None,
        "--id",
        help="Worker name; its table files go to <data_dir>/worker-<id>. "
        "Env: PRIVACY_PIPELINE_WORKER_ID (default 1).",
    ),
    loglevel: str = typer.Option(
        "warn",
        "--loglevel",
        "-l",
        envvar="PRIVACY_PIPELINE_WORKER_LOGLEVEL",
        help="crit, error, warn, info or debug. Env: PRIVACY_PIPELINE_WORKER_LOGLEVEL.",
    ),
) -> None:
    """Run a processor worker; start several to share the partitions (consumer group)."""
    if worker_id is not None:
        os.environ["PRIVACY_PIPELINE_WORKER_ID"] = worker_id
    settings()  # a bad PRIVACY_PIPELINE_* value fails here, as one line
    import processors.agents  # noqa: F401  (registers the agent, timer and tables)
    from pipeline.app import app as faust_app
    from pipeline.app import run_worker
    from pipeline.observe.ports import worker_port
    from pipeline.observe.server import serve_metrics
    from processors.metrics import METRICS

    s = settings()
    METRICS.info.labels(s.worker_id, faust_app.conf.id).set(1)
    serve_metrics(METRICS.registry, METRICS.liveness.check, s.metrics_host, worker_port(s),
                  f"worker {s.worker_id}")
    run_worker(faust_app, loglevel)
