"""``privacy-pipeline keys …``: the security team's purpose-key commands.

Every command appends one entry to the hash-chained audit log (``<data_dir>/keys/audit.log``),
except ``ensure`` and ``expire`` when they find nothing to do. No command prints key material.
``destroy`` and ``expire`` retire the KEK with the keys they destroy (see :mod:`keys.shred`).
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
import keys.shred
from keys.exceptions import DecryptFailed
from keys.kek import PRODUCTION_WARNING
from keys.keyring import DEFAULT_MAX_ENCRYPTIONS
from keys.lifecycle import rewrap_to_master_key, rewrap_to_new_master_file
from keys.records import decrypt_line
from keys.subjectkeys import SubjectDecryptor
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


def _new_master_key(config: Settings, yes: bool) -> str | None:
    """With the env backend: the new master key, from a hidden prompt or a line of stdin."""
    if config.kek != "env":
        return None
    typer.echo("The KEK is retired with the destroyed keys: give a NEW master key (base64 of 32 "
               "random bytes); afterwards set PRIVACY_PIPELINE_MASTER_KEY to it.", err=True)
    if sys.stdin.isatty():
        return cast(str, typer.prompt("New master key", hide_input=True, default="",
                                      show_default=False, err=True))
    if not yes:
        raise UsageError("pass --yes when the new master key comes on stdin")
    return sys.stdin.readline()


def _report(shredded: keys.shred.Shredded, config: Settings, what: str) -> None:
    kek = shredded.kek
    assert kek is not None  # noqa: S101 - set whenever an epoch was destroyed
    where = (keys.KeyPaths.from_settings(config).master_key if kek.backend == "file"
             else "PRIVACY_PIPELINE_MASTER_KEY")
    typer.echo(f"destroyed {what}; every remaining key moved to the new KEK {kek.kek_id} "
               f"({where}): the old KEK is gone, so older copies of keyring.json open nothing")
    if kek.backend == "env":
        typer.echo("now set PRIVACY_PIPELINE_MASTER_KEY to the new key wherever the pipeline "
                   "runs, and restart the workers and the sink")


@keys_app.command("destroy")
def destroy(
    purpose: Purpose,
    before: Annotated[str, typer.Option(help="Destroy every epoch that starts before it.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Destroy the keys of old epochs and retire the KEK: data under them becomes unreadable,
    for good, even from a backup of the keyring. With PRIVACY_PIPELINE_KEK=env the new master
    key is read from stdin (a hidden prompt on a terminal)."""
    _known_purpose(purpose)
    config = settings()
    ring = _open()
    doomed = ring.epochs_before(purpose, before)
    if not doomed:
        typer.echo(f"no live {purpose} epoch before {before}: nothing to do")
        return
    if not yes:
        typer.confirm(f"Destroy every {purpose} key of epochs {', '.join(doomed)}? Data under "
                      "them becomes unreadable forever", abort=True)
    shredded = keys.shred.destroy(ring, purpose, before, _new_master_key(config, yes))
    if shredded.epochs:
        _report(shredded, config, f"{purpose} epochs: {', '.join(shredded.epochs)}")


@keys_app.command("expire")
def expire(
    yes: Annotated[bool, typer.Option(
        "--yes", help="Read the new master key (env backend) from stdin without a terminal.")
    ] = False,
) -> None:
    """Destroy every epoch older than its purpose's retention and retire the KEK (run daily;
    the sink does it by itself with the file backend)."""
    config = settings()
    ring = _open()
    if not ring.expired_epochs():
        typer.echo("no epoch past its retention: nothing to do")
        return
    shredded = keys.shred.expire(ring, _new_master_key(config, yes))
    if shredded.epochs:
        _report(shredded, config, f"{len(shredded.epochs)} expired epochs: "
                f"{', '.join(shredded.epochs)}")


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
    """Decrypt the enc fields of sanitized records (JSON lines in, JSON lines out).

    Fields under a user's subject key are opened through the subject-keys topic (read from
    Kafka on the first such field); an erased user's fields fail as key destroyed.
    """
    from pipeline.subjectkeys import KafkaLookup

    _known_purpose(purpose)
    ring = _open()
    ring.record("decrypt", purpose, {"source": source})  # before any plaintext is written
    opener = SubjectDecryptor(ring, KafkaLookup(settings()))
    total = failed = 0
    for number, line in _lines(source):
        ok, out = decrypt_line(opener, purpose, line, number)
        total, failed = total + 1, failed + (not ok)
        typer.echo(out)
    if failed:
        raise DecryptFailed(f"{failed} of {total} records could not be decrypted "
                            "(see the 'error' field of their output lines)")
