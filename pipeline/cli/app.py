"""The root Typer app and the settings every sub-command reads."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperOption

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


_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}


def _value_name(self: Any, ctx: Any) -> str | None:
    """What help shows after an option: its metavar, nothing for a flag, else TEXT, INTEGER...

    typer 0.29 shows ``<bool>``/``<str>`` type placeholders; click's plain names read better.
    """
    if self.metavar is not None:
        return str(self.metavar)
    label = str(self.display_type(ctx)).strip("<>")
    if label == "bool":
        return None
    return _NAMES.get(label, label.upper())


TyperOption.display_type_rich = _value_name  # type: ignore[method-assign]
TyperArgument.display_type_rich = _value_name  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"privacy-pipeline {version('privacy-pipeline')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("privacy-pipeline (not installed)")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Privacy-aware analytics event pipeline (see DESIGN.md).

    Settings come from PRIVACY_PIPELINE_* environment variables.
    """
