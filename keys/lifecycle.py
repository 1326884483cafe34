"""Create, open and re-key a keyring from :class:`~pipeline.settings.Settings`.

``rewrap`` to a new local master key is crash-safe: the new key is written to
``master.key.new``, the keyring is rewrapped, then the new key replaces ``master.key``. If a
crash leaves the keyring under ``master.key.new``, the next open finishes the swap.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from keys import ops, storage
from keys.admin import Keyring
from keys.audit import AuditDraft, AuditLog
from keys.exceptions import KekError, KeyringExists
from keys.journal import commit, resolve_actor
from keys.kek import (
    Kek,
    LocalKek,
    create_master_file,
    decode_master_key,
    kek_from_settings,
    load_master_file,
)
from keys.keyring import DEFAULT_MAX_ENCRYPTIONS, Clock, utc_now
from keys.paths import KeyPaths
from keys.spec import PurposeSpec
from pipeline.settings import Settings


def _fsync_dir(paths: KeyPaths) -> None:
    fd = os.open(paths.directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_pending_master(paths: KeyPaths, *, drop_stale: bool = False) -> None:
    """Complete an interrupted master-key swap; with ``drop_stale``, drop an unused one.

    Only ``rewrap`` drops a stale ``master.key.new``: another process may be between writing
    it and rewrapping the keyring.
    """
    if not paths.pending_master_key.exists():
        return
    try:
        pending = load_master_file(paths.pending_master_key)
    except KekError:
        pending = None
    if pending is not None and storage.peek_kek_id(paths.keyring) == pending.kek_id:
        with contextlib.suppress(FileNotFoundError):  # another process finished it
            os.replace(paths.pending_master_key, paths.master_key)
    elif drop_stale:  # the rewrap never reached the keyring: the old key is still the right one
        paths.pending_master_key.unlink(missing_ok=True)
    _fsync_dir(paths)


def _kek_loader(settings: Settings, paths: KeyPaths) -> Callable[[], Kek]:
    def load() -> Kek:
        if settings.kek == "file":
            finish_pending_master(paths)
        return kek_from_settings(settings)

    return load


def open_keyring(settings: Settings, specs: Sequence[PurposeSpec], *, clock: Clock = utc_now,
                 kek: Kek | None = None, **options: Any) -> Keyring:
    """Open the keyring at ``<data_dir>/keys/keyring.json`` with the configured KEK.

    Args:
        settings: where the keyring is and which KEK backend to use.
        specs: the policy's purposes (``Policy.key_specs()``).
        clock: injected "now" (tests); the data path takes explicit times.
        kek: use this KEK instead of the configured one (tests, rewrap).
        options: passed to :class:`Keyring` (``lease_size``, ``refresh_interval_s``...).

    Raises:
        KeyringNotFound, KeyringCorrupt, KekError, KekMismatch, PolicyMismatch: as named.
    """
    paths = KeyPaths.from_settings(settings)
    if not paths.keyring.exists():
        raise storage.missing(paths.keyring)
    loader = _kek_loader(settings, paths)
    return Keyring(paths, kek or loader(), specs, clock=clock, actor=settings.actor,
                   reload_kek=None if kek else loader, **options)


def init_keyring(settings: Settings, specs: Sequence[PurposeSpec], *, clock: Clock = utc_now,
                 kek: Kek | None = None,
                 max_encryptions: int = DEFAULT_MAX_ENCRYPTIONS) -> tuple[Keyring, bool]:
    """Create the keyring (and, for the file backend, the master key if absent).

    Returns:
        The open keyring and whether a new local master key file was created (the caller
        prints the production warning).

    Raises:
        KeyringExists: a keyring or a previous audit log is already there.
    """
    paths = KeyPaths.from_settings(settings)
    paths.ensure_directory()
    created_master = False
    with storage.locked(paths.lock):
        if paths.keyring.exists():
            raise KeyringExists(f"{paths.keyring} already exists: use `keys ensure` to add epochs")
        if AuditLog(paths.audit_log).exists():
            raise KeyringExists(f"{paths.audit_log} belongs to an earlier keyring: archive it "
                                "elsewhere, then run `keys init` again")
        if kek is None and settings.kek == "file" and not paths.master_key.exists():
            kek, created_master = create_master_file(paths.master_key), True
        kek = kek or kek_from_settings(settings)
        now = clock()
        integrity_key = os.urandom(32)
        body = ops.new_body(kek, integrity_key, now, max_encryptions)
        created = ops.ensure_epochs(body, kek, specs, now)
        detail = {"kek": kek.kek_id, "backend": kek.backend, "created": ",".join(created)}
        commit(paths, body, integrity_key, AuditDraft("init", detail=detail),
               actor=resolve_actor(settings.actor), now=now)
    return open_keyring(settings, specs, clock=clock, kek=kek), created_master


def rewrap_to_new_master_file(ring: Keyring, paths: KeyPaths) -> Kek:
    """Generate a new local master key, rewrap the keyring under it, retire the old one."""
    finish_pending_master(paths, drop_stale=True)
    new = create_master_file(paths.pending_master_key)
    try:
        ring.rewrap(new)
    except BaseException:
        paths.pending_master_key.unlink(missing_ok=True)
        raise
    finish_pending_master(paths)
    if load_master_file(paths.master_key).kek_id != new.kek_id:
        raise KekError(f"{paths.master_key} was not replaced by the new master key: check it")
    return new


def rewrap_to_master_key(ring: Keyring, paths: KeyPaths, master_b64: str) -> Kek:
    """Rewrap under a given base64 master key (``env`` backend); delete the old key file."""
    new = LocalKek(decode_master_key(master_b64, "the new master key"), "env")
    ring.rewrap(new)
    # The old file KEK would still open old keyring backups (with since-destroyed keys).
    paths.master_key.unlink(missing_ok=True)
    return new
