"""``privacy-pipeline policy …``: the DPO's view of the processing policy."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from pipeline.cli.app import app, settings
from pipeline.errors import PipelineError, UsageError

if TYPE_CHECKING:
    from pipeline.policy import Policy
    from pipeline.settings import Settings

log = logging.getLogger(__name__)

policy_app = typer.Typer(help="The processing policy: its record of processing.",
                         no_args_is_help=True)
app.add_typer(policy_app, name="policy")

FORMATS = ("table", "json")


def _live_epochs(config: Settings, policy: Policy) -> dict[str, list[date]]:
    """Start day of every live key epoch per purpose ({} without a readable keyring)."""
    import keys
    from keys.epochs import epoch_start

    if not keys.KeyPaths.from_settings(config).keyring.exists():
        return {}
    try:
        rows = keys.open_keyring(config, policy.key_specs()).describe()
    except PipelineError as exc:
        log.warning("keyring not readable, destruction dates from the policy only: %s", exc)
        return {}
    out: dict[str, set[date]] = {}
    for row in rows:
        purpose = policy.purposes.get(row.purpose)
        if purpose is None or row.epoch_status == "destroyed":
            continue
        out.setdefault(row.purpose, set()).add(epoch_start(purpose.epoch, row.epoch).date())
    return {k: sorted(v) for k, v in out.items()}


@policy_app.command("register")
def register_cmd(
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", dir_okay=False,
        help="Also write the record as a self-contained HTML page.")] = None,
    output_format: Annotated[str, typer.Option(
        "--format", metavar="FORMAT", help="table (default) or json.")] = "table",
) -> None:
    """The record of processing (GDPR art. 30): per purpose its basis, data, recipients,
    transfers, automated decisions, retention and key destruction, publication mode, GPC/TCF
    handling and latest figures, from the policy file and the live state."""
    from pipeline.policy import load_policy
    from pipeline.report.queries import analytics_path, open_analytics
    from pipeline.report.register import build_register, key_destructions
    from pipeline.report.register_render import render_terminal, write_html

    if output_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {output_format!r}")
    config = settings()
    policy = load_policy(config.policy)
    now = datetime.now(UTC)
    destructions = key_destructions(policy, _live_epochs(config, policy), now)
    path = analytics_path(config)
    conn = open_analytics(path) if path.is_file() else None
    try:
        reg = build_register(policy, destructions, conn, path, now, config.topic_prefix)
    finally:
        if conn is not None:
            conn.close()
    if output_format == "json":
        typer.echo(json.dumps(reg.to_json(), ensure_ascii=False, indent=2))
    else:
        render_terminal(reg, Console())
    if html is not None:
        write_html(reg, html)
        typer.echo(f"HTML record written to {html}", err=output_format == "json")
