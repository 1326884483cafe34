"""``privacy-pipeline rights …``: the DPO's commands for data-subject rights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from pipeline.cli.app import app, settings
from pipeline.cli.output import FormatOption, Rows, check_format, emit
from pipeline.errors import UsageError

rights_app = typer.Typer(
    help="Data-subject rights: publish requests, export what is held, erasure status.",
    no_args_is_help=True,
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
    """Write what the pipeline holds about a user (access, portability) as JSON.

    The file is a ``privacy-pipeline.export/1`` document (README, "Access and portability");
    after an erasure it holds only the erasure's audit record.
    """
    import keys
    from pipeline import rights
    from pipeline.policy import load_policy

    if not output.parent.is_dir() or output.is_dir():
        raise UsageError(f"--output {output}: not a file in an existing directory")
    s = settings()
    policy = load_policy(s.policy)
    ring = keys.open_keyring(s, policy.key_specs())
    data = rights.export(s, policy, ring, user)  # read all before writing: never half a file
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise UsageError(f"cannot write --output {output}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
    typer.echo(
        f"wrote {output} ({data['format']}): status {data['status']}, consent state "
        f"{'present' if data['consent'] else 'none'}, {data['held_events']['count']} held "
        f"event(s), {len(data['rights_requests'])} rights record(s)"
    )


@rights_app.command("status")
def status_cmd(
    user: str = typer.Option(..., "--user", help="The data subject's user id."),
    fmt: FormatOption = "table",
) -> None:
    """Where an erased user's data may still be, and by when it is gone (README, "Erasure
    timeline").

    One row per place (topics, worker store files): what may remain, the time by which it is
    gone (from the broker's actual topic configs and intervals), and what that is computed
    from; then when the erasure is complete. No erasure recorded: one line, exit 1.
    """
    import keys
    from pipeline import erasure_status
    from pipeline.policy import load_policy

    check_format(fmt)
    if not user:
        raise UsageError("--user must not be empty")
    s = settings()
    policy = load_policy(s.policy)
    ring = keys.open_keyring(s, policy.key_specs())
    report = erasure_status.status(s, policy, ring, user)
    rows = [(r.place, r.holds, r.what, r.gone_by, r.basis) for r in report.rows]
    title = f"erasure of {report.erasure.at:%Y-%m-%d %H:%M:%S} UTC"
    emit(Rows(("place", "holds", "may remain", "gone_by", "basis"), rows, title), fmt)
    for line in erasure_status.summary(report):
        typer.echo(line, err=fmt != "table")
