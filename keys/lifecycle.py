"""Create, open and re-key a keyring from :class:`~pipeline.settings.Settings`.

``rewrap`` to a new local master key is crash-safe (see :mod:`keys.masterfile`): the new key
is written to ``master.key.new``, the keyring is rewrapped, then the new key replaces
``master.key`` and the old one is overwritten and removed. If a crash leaves the keyring under
``master.key.new``, the next open finishes the swap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from keys import ops, storage
from keys.admin import Keyring
from keys.audit import AuditDraft, AuditLog
from keys.exceptions import KekError, KeyringExists
from keys.journal import commit, resolve_actor
from keys.kek import Kek, LocalKek, create_master_file, decode_master_key, kek_from_settings
from keys.keyring import DEFAULT_MAX_ENCRYPTIONS, Clock, utc_now
from keys.masterfile import FreshMasterFile, finish_pending_master, wipe
from keys.paths import KeyPaths
from keys.spec import PurposeSpec
from pipeline.settings import Settings


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
    """Generate a new local master key, rewrap the keyring under it, wipe the old one.

    Raises:
        KekError: ``master.key`` does not hold the new key afterwards.
    """
    with FreshMasterFile(paths) as fresh:
        ring.rewrap(fresh)
    if fresh.kek is None or not fresh.installed():
        raise KekError(f"{paths.master_key} was not replaced by the new master key: check it")
    return fresh.kek


def rewrap_to_master_key(ring: Keyring, paths: KeyPaths, master_b64: str) -> Kek:
    """Rewrap under a given base64 master key (``env`` backend); wipe the old key file."""
    new = LocalKek(decode_master_key(master_b64, "the new master key"), "env")
    ring.rewrap(new)
    # The old file KEK would still open old keyring backups (with since-destroyed keys).
    wipe(paths.master_key)
    return new
