"""The root Typer app and the settings every sub-command reads."""

from __future__ import annotations

import typer

from pipeline.settings import Settings

app = typer.Typer(
    name="privacy-pipeline",
    help="Privacy-aware analytics event pipeline (see DESIGN.md). "
    "Settings come from PRIVACY_PIPELINE_* environment variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def settings() -> Settings:
    """Settings from the process environment (raises ConfigError on a bad value)."""
    return Settings.from_env()
