"""``privacy-pipeline collector [options]`` (serve) and ``collector new-key APP``."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli.app import app, settings
from pipeline.collector import auth

collector_app = typer.Typer(
    help="HTTP collector: apps POST batches of events to /v1/events and /v1/consent; valid "
    "events go to Kafka keyed by user_id. Keys: PRIVACY_PIPELINE_COLLECTOR_KEYS or "
    "PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE (hashes from `collector new-key APP`).",
    invoke_without_command=True,
)
app.add_typer(collector_app, name="collector")


@collector_app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Listen address (env PRIVACY_PIPELINE_COLLECTOR_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (env PRIVACY_PIPELINE_COLLECTOR_PORT).")
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error (request lines are at info).")
    ] = "info",
) -> None:
    """Serve the collector until interrupted (run without a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.collector.app import create_app  # heavy imports only when serving
    from pipeline.collector.exceptions import KeyConfigError
    from pipeline.collector.server import serve as run

    s = settings()
    application = create_app(s)
    if not len(application.state.collector.keys):
        env = s.env_names()
        raise KeyConfigError(
            f"no API key configured: run `privacy-pipeline collector new-key APP` and put the "
            f"printed entry in {env['collector_keys']} or the file named by "
            f"{env['collector_keys_file']}"
        )
    run(application, host or s.collector_host, port or s.collector_port, log_level.lower())


@collector_app.command("new-key")
def new_key(
    app_name: Annotated[str, typer.Argument(metavar="APP", help="Name of the app (a-z0-9._-).")],
    scopes: Annotated[
        str,
        typer.Option(
            help="What the key may send, comma separated: events (navigation, geolocation), "
            "consent (consent/1), rights (rights/1: the DPO's back office only, never an app)."
        ),
    ] = "events,consent",
) -> None:
    """Print a fresh API key for APP (shown once) and the hash entry to configure."""
    auth.check_app_name(app_name)
    granted = auth.parse_scopes(scopes, sep=",")
    key = auth.new_key()
    typer.echo(f"API key for {app_name} (shown once; give it to the app, store no copy):")
    typer.echo(key)
    typer.echo("Entry for PRIVACY_PIPELINE_COLLECTOR_KEYS (comma separated) or the keys file:")
    typer.echo(auth.format_entry(app_name, auth.hash_key(key), granted))
