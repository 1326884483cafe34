"""The ``privacy-pipeline`` command line: one Typer app, one module per sub-command.

User errors (any :class:`~pipeline.errors.PipelineError`) print one line on stderr and exit
with status 1; no traceback reaches the user.
"""

from __future__ import annotations

import sys

import typer

from pipeline.cli import app as _app_module
from pipeline.errors import PipelineError
from pipeline.private import restrict_umask

app = _app_module.app


def _register() -> None:
    # Imported here so each sub-command module registers itself on ``app``.
    # One line per sub-command module.
    import pipeline.cli.app
    import pipeline.cli.bench
    import pipeline.cli.broker
    import pipeline.cli.collector
    import pipeline.cli.demo
    import pipeline.cli.keys
    import pipeline.cli.policy
    import pipeline.cli.report
    import pipeline.cli.rights
    import pipeline.cli.simulate
    import pipeline.cli.sink
    import pipeline.cli.status
    import pipeline.cli.topics
    import pipeline.cli.validate
    import pipeline.cli.worker  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``privacy-pipeline`` console script."""
    restrict_umask()  # before any file is created: everything written is private
    _register()
    try:
        app(args=argv, prog_name="privacy-pipeline", standalone_mode=True)
    except PipelineError as exc:
        typer.echo(f"privacy-pipeline: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("privacy-pipeline: interrupted", err=True)
        sys.exit(130)
