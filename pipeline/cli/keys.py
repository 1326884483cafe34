"""``privacy-pipeline keys …``: the security team's purpose-key commands.

Every command appends one entry to the hash-chained audit log (``<data_dir>/keys/audit.log``),
except ``ensure`` and ``expire`` when they find nothing to do. No command prints key material.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, cast

import typer

import keys
from keys.exceptions import DecryptFailed
from keys.kek import PRODUCTION_WARNING
from keys.keyring import DEFAULT_MAX_ENCRYPTIONS
from keys.lifecycle import rewrap_to_master_key, rewrap_to_new_master_file
from keys.records import decrypt_line
from pipeline.cli.app import app, settings
from pipeline.cli.output import FormatOption, Rows, check_format, emit
from pipeline.errors import UsageError
from pipeline.settings import Settings

keys_app = typer.Typer(
    help="Purpose keys (DESIGN.md section 7): init, ensure, list, rotate, rewrap, destroy, "
    "expire, audit, decrypt. Files under PRIVACY_PIPELINE_DATA_DIR/keys; KEK backend from "
    "PRIVACY_PIPELINE_KEK (file|env).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

Purpose = Annotated[str, typer.Option("--purpose", "-p", help="Purpose name, as in the policy.")]


def policy_specs(config: Settings) -> list[keys.PurposeSpec]:
    """The policy's key specs; none while the policy package is not installed."""
    try:
        policy = importlib.import_module("pipeline.policy")
    except ModuleNotFoundError as exc:
        if exc.name not in ("pipeline.policy", "pipeline"):
            raise
        return []
    return cast(list[keys.PurposeSpec], policy.load_policy(config.policy).key_specs())


def _open() -> keys.Keyring:
    config = settings()
    return keys.open_keyring(config, policy_specs(config))


def _known_purpose(purpose: str) -> None:
    """Refuse a purpose the policy does not name, listing the valid ones."""
    names = sorted({spec.name for spec in policy_specs(settings())})
    if names and purpose not in names:
        raise UsageError(f"no purpose {purpose!r} in the policy: use one of {', '.join(names)}")


@keys_app.command("init")
def init(
    max_encryptions: Annotated[
        int, typer.Option(min=1, help="Encryptions per key before a forced rotation.")
    ] = DEFAULT_MAX_ENCRYPTIONS,
) -> None:
    """Create the keyring (and the local master key with the file backend) for every purpose."""
    config = settings()
    specs = policy_specs(config)
    ring, created_master = keys.init_keyring(config, specs, max_encryptions=max_encryptions)
    paths = keys.KeyPaths.from_settings(config)
    if created_master:
        typer.secho(PRODUCTION_WARNING.format(path=paths.master_key), err=True, fg="red",
                    bold=True)
    epochs = {(row.purpose, row.epoch) for row in ring.describe()}
    typer.echo(f"keyring created at {paths.keyring}: {len(specs)} purposes, {len(epochs)} "
               f"epochs, KEK {ring.kek.kek_id} ({ring.kek.backend})")


@keys_app.command("ensure")
def ensure() -> None:
    """Create keys for missing epochs, from 7 days ago to the next epoch (idempotent)."""
    created = _open().ensure()
    typer.echo(f"created {len(created)} epochs: {', '.join(created)}" if created
               else "all epochs present: nothing to do")


@keys_app.command("list")
def list_keys(
    fmt: FormatOption = "table",
    as_json: Annotated[bool, typer.Option("--json", hidden=True)] = False,
) -> None:
    """List keys: purpose, epoch, role, key id, status, dates, reserved count (no secrets)."""
    fmt = "json" if as_json else check_format(fmt)
    ring = _open()
    ring.record("list")
    described = ring.describe()
    columns = [f.name for f in dataclasses.fields(described[0])] if described else ["purpose"]
    rows = [dataclasses.astuple(row) for row in described]
    title = f"keyring {ring.digest[:16]}… KEK {ring.kek.kek_id} ({ring.kek.backend})"
    emit(Rows(columns, rows, title), fmt)


@keys_app.command("rotate")
def rotate(
    purpose: Purpose,
    epoch: Annotated[str | None, typer.Option(help="Epoch to rotate (default: current).")] = None,
) -> None:
    """Add a new encryption key and promote it; the old one stays decrypt-only."""
    _known_purpose(purpose)
    old, new = _open().rotate(purpose, epoch)
    typer.echo(f"{purpose}: new active key {new}; {old or 'none'} is now decrypt-only")


@keys_app.command("rewrap")
def rewrap(
    to: Annotated[str | None, typer.Option(
        help="Target backend: file (new master.key) or env (new key read from stdin, "
        "e.g. `openssl rand -base64 32 | privacy-pipeline keys rewrap --to env`).")] = None,
) -> None:
    """Re-wrap every key under a new KEK; data and key ids are untouched."""
    config = settings()
    target = to or config.kek
    ring = _open()
    paths = keys.KeyPaths.from_settings(config)
    if target == "file":
        new = rewrap_to_new_master_file(ring, paths)
        typer.echo(f"rewrapped under new master key {new.kek_id} in {paths.master_key}; "
                   "the old key no longer opens the keyring")
    elif target == "env":
        new = rewrap_to_master_key(ring, paths, sys.stdin.readline())
        typer.echo(f"rewrapped under KEK {new.kek_id}: set PRIVACY_PIPELINE_KEK=env and "
                   "PRIVACY_PIPELINE_MASTER_KEY to the new key, then restart the workers")
    else:
        raise UsageError(f"--to {target!r}: use file or env")


@keys_app.command("destroy")
def destroy(
    purpose: Purpose,
    before: Annotated[str, typer.Option(help="Destroy every epoch that starts before it.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Destroy the keys of old epochs: data under them becomes unreadable, for good."""
    _known_purpose(purpose)
    ring = _open()
    if not yes:
        typer.confirm(f"Destroy every {purpose} key of epochs before {before}? Data under "
                      "them becomes unreadable forever", abort=True)
    done = ring.destroy(purpose, before)
    typer.echo(f"destroyed {purpose} epochs: {', '.join(done)}" if done
               else f"no live {purpose} epoch before {before}: nothing to do")


@keys_app.command("expire")
def expire() -> None:
    """Destroy every epoch older than its purpose's retention (run daily)."""
    done = _open().expire()
    typer.echo(f"destroyed {len(done)} expired epochs: {', '.join(done)}" if done
               else "no epoch past its retention: nothing to do")


@keys_app.command("audit")
def audit(
    verify: Annotated[bool, typer.Option(
        "--verify", help="Only verify the chain (no listing).")] = False,
    fmt: FormatOption = "table",
) -> None:
    """Show the audit log and verify its hash chain, MACs and keyring anchor."""
    check_format(fmt)
    ring = _open()
    report = ring.verify_audit()
    if not verify:
        columns = ("seq", "time", "actor", "action", "purpose", "epoch", "keys", "detail")
        rows = [(entry.seq, entry.time, entry.actor, entry.action, entry.purpose, entry.epoch,
                 " ".join(entry.key_ids),
                 " ".join(f"{k}={v}" for k, v in sorted(entry.detail.items())))
                for entry in report.entries]
        emit(Rows(columns, rows, f"audit log ({len(report.entries)} entries)"), fmt)
    # The verdict is not a row: with json or csv it goes to stderr, out of a parser's way.
    typer.echo(f"audit log intact: {len(report.entries)} entries, chained, MACs valid, "
               "anchored in the keyring", err=fmt != "table")
    if report.pending:
        # Not recorded: a new entry would re-anchor the keyring and hide a rollback.
        typer.secho(f"warning: {report.pending} entries follow the keyring's anchor: an "
                    "operation was interrupted, or the keyring was restored from an older "
                    "copy; check the last entries", err=True, fg="yellow")
        return
    ring.record("audit", detail={"verified": str(len(report.entries))})


def _lines(source: str) -> Iterator[tuple[int, str]]:
    """Numbered non-blank lines of a file, or of stdin for ``-``."""
    if source == "-":
        stream = sys.stdin
    else:
        try:
            stream = Path(source).open(encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    try:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin:
            stream.close()


@keys_app.command("decrypt")
def decrypt(
    purpose: Purpose,
    source: Annotated[
        str, typer.Argument(help="JSON-lines file of sanitized records, or - for stdin.")
    ] = "-",
) -> None:
    """Decrypt the enc fields of sanitized records (JSON lines in, JSON lines out)."""
    _known_purpose(purpose)
    ring = _open()
    ring.record("decrypt", purpose, {"source": source})  # before any plaintext is written
    total = failed = 0
    for number, line in _lines(source):
        ok, out = decrypt_line(ring, purpose, line, number)
        total, failed = total + 1, failed + (not ok)
        typer.echo(out)
    if failed:
        raise DecryptFailed(f"{failed} of {total} records could not be decrypted "
                            "(see the 'error' field of their output lines)")
