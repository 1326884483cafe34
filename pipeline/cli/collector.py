"""``privacy-pipeline collector [options]`` (serve) and ``collector new-key APP``."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline import preflight
from pipeline.cli.app import app, settings
from pipeline.cli.options import LOG_LEVEL_HELP, log_level
from pipeline.cli.output import FormatOption, Rows, check_format, emit
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
    level: Annotated[str, typer.Option(
        "--log-level", metavar="LEVEL",
        help=f"{LOG_LEVEL_HELP} Request lines are at info.")] = "info",
) -> None:
    """Serve the collector until interrupted (run without a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.collector.app import create_app  # heavy imports only when serving
    from pipeline.collector.exceptions import KeyConfigError
    from pipeline.collector.metrics import serve_collector_metrics
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
    names = application.state.collector.topics.by_schema().values()
    took = preflight.check(s, preflight.service_specs(s, [], names))
    state = application.state.collector
    serve_collector_metrics(state.metrics, lambda: state.producer.ready, s.metrics_host,
                            s.collector_metrics_port)
    # The one start-up line (logged by the server once bound, after the listen address).
    banner = (
        f"Kafka {s.bootstrap_servers}, topic prefix {s.topic_prefix!r}, "
        f"{len(state.keys)} API key(s), {len(set(names))} topics checked in {took:.2f} s, "
        f"CORS origins {s.collector_cors or 'none'}, "
        f"metrics port {s.collector_metrics_port}"
    )
    run(application, host or s.collector_host, port or s.collector_port, log_level(level),
        banner)


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
    fmt: FormatOption = "table",
) -> None:
    """Print a fresh API key for APP (shown once) and the hash entry to configure."""
    auth.check_app_name(app_name)
    granted = auth.parse_scopes(scopes, sep=",")
    key = auth.new_key()
    if check_format(fmt) != "table":
        # For scripts: the key and the entry as one row (the key is still shown only once).
        entry = auth.format_entry(app_name, auth.hash_key(key), granted)
        emit(Rows(("app", "key", "entry"), [(app_name, key, entry)]), fmt)
        return
    typer.echo(f"API key for {app_name} (shown once; give it to the app, store no copy):")
    typer.echo(key)
    typer.echo("Entry for PRIVACY_PIPELINE_COLLECTOR_KEYS (comma separated) or the keys file:")
    typer.echo(auth.format_entry(app_name, auth.hash_key(key), granted))
