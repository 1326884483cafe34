"""``privacy-pipeline rights …``: the DPO's commands for data-subject rights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from pipeline.cli.app import app, settings
from pipeline.errors import UsageError

rights_app = typer.Typer(
    help="Data-subject rights: publish requests, export what is held.", no_args_is_help=True
)
app.add_typer(rights_app, name="rights")


@rights_app.command("request")
def request_cmd(
    user: str = typer.Option(..., "--user", help="The data subject's user id."),
    right: str = typer.Option(
        ..., "--right", help="erasure, objection, access, portability or rectification."
    ),
    purpose: list[str] = typer.Option(
        None, "--purpose", help="Purpose(s) an objection names; repeat."
    ),
) -> None:
    """Publish a rights/1 request; the workers apply it and keep an audit record."""
    from pipeline import rights

    if right not in rights.RIGHTS:
        raise UsageError(f"--right must be one of {', '.join(rights.RIGHTS)}, not {right!r}")
    if purpose and right != "objection":
        raise UsageError("--purpose only goes with --right objection")
    s = settings()
    if purpose:
        from pipeline.policy import load_policy

        valid = sorted(load_policy(s.policy).purposes)
        unknown = [p for p in purpose if p not in valid]
        if unknown:
            raise UsageError(f"no purpose {unknown[0]!r} in the policy: use one of "
                             f"{', '.join(valid)}")
    event_id = rights.request(s, user, right, list(purpose or []))
    typer.echo(f"published {right} request {event_id}")


@rights_app.command("export")
def export_cmd(
    user: str = typer.Option(..., "--user", help="The data subject's user id."),
    output: Path = typer.Option(..., "--output", "-o", help="JSON file to write (mode 0600)."),
) -> None:
    """Write, as JSON, everything the pipeline's state holds about a user (access, portability)."""
    import keys
    from pipeline import rights
    from pipeline.policy import load_policy

    s = settings()
    policy = load_policy(s.policy)
    ring = keys.open_keyring(s, policy.key_specs())
    data = rights.export(s, policy, ring, user)
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
    typer.echo(
        f"wrote {output}: consent state {'present' if data['consent'] else 'none'}, "
        f"{len(data['held_events'])} held event(s), {len(data['rights_requests'])} rights record(s)"
    )
