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
    from faust.worker import Worker

    import processors.agents  # noqa: F401  (registers the agent, timer and tables)
    from pipeline.app import app as faust_app

    runner = Worker(faust_app, loglevel=loglevel, quiet=True)
    # faust's start-up spinner sets the root logger to DEBUG, so every debug call in aiokafka
    # built a log record (5% of the worker's CPU); without it the root level is ``loglevel``.
    runner.spinner = None
    runner.execute_from_commandline()
