"""Replacing the local master key (``file`` KEK backend) crash-safely, and wiping the old one.

A new key is first written to ``master.key.new``; the keyring is rewrapped under it in one
atomic write; only then does the new key take the name ``master.key`` (``os.replace``: a
reader sees the old or the new file, never none). The old key is hard-linked to
``master.key.retired`` just before, and that file is overwritten with zeros, fsynced and
removed after. A crash at any point leaves a state the next open (or shred) completes:

- ``master.key.new`` that does not wrap the keyring: the rewrap never happened; dropped by the
  next key-changing command (another process may be about to use it, so opens leave it).
- ``master.key.new`` that wraps the keyring: the swap is finished on the next open.
- ``master.key.retired``: wiped on the next open, unless it wraps the keyring.

Swaps are serialised by ``master.lock``, always taken after the keyring lock when both are
held (no deadlock): two processes finishing one swap at once could otherwise retire the *new*
key, and a process dropping a "stale" new key could drop one another process is about to use.

Overwriting cannot reach copies that a journaling or copy-on-write file system, an SSD's
remapping or a backup kept: keep ``master.key`` out of backups, or keep the KEK in an HSM/KMS.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from keys import storage
from keys.exceptions import KekError
from keys.kek import LocalKek, create_master_file, load_master_file
from keys.paths import KeyPaths


def _fsync_dir(paths: KeyPaths) -> None:
    fd = os.open(paths.directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_load(path: Path) -> LocalKek | None:
    try:
        return load_master_file(path)
    except KekError:
        return None


def wipe(path: Path) -> None:
    """Overwrite a key file with zeros in place, fsync it, then remove it (absent: no-op)."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        os.write(fd, b"\0" * max(size, 64))
        os.fsync(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _wipe_unless_current(path: Path, current: str | None) -> None:
    """Wipe ``path`` unless it is the key that wraps the keyring (never destroy that one)."""
    if not path.exists():
        return
    key = _try_load(path)
    if key is not None and key.kek_id == current:
        return
    wipe(path)


def _finish_locked(paths: KeyPaths, drop_stale: bool) -> None:
    current = storage.peek_kek_id(paths.keyring)
    _wipe_unless_current(paths.retired_master_key, current)
    pending = _try_load(paths.pending_master_key)
    if pending is not None and pending.kek_id == current:
        if paths.master_key.exists() and not paths.retired_master_key.exists():
            os.link(paths.master_key, paths.retired_master_key)
        os.replace(paths.pending_master_key, paths.master_key)
        _fsync_dir(paths)
        _wipe_unless_current(paths.retired_master_key, current)
    elif drop_stale and paths.pending_master_key.exists():
        wipe(paths.pending_master_key)  # the rewrap never reached the keyring
    _fsync_dir(paths)


def finish_pending_master(paths: KeyPaths, *, drop_stale: bool = False) -> None:
    """Complete an interrupted master-key swap; with ``drop_stale``, wipe an unused new key.

    Only a process holding ``master.lock`` from before the pending key was written may pass
    ``drop_stale`` (see :class:`FreshMasterFile`); opens never do.
    """
    if not (paths.pending_master_key.exists() or paths.retired_master_key.exists()):
        return
    with storage.locked(paths.master_lock):
        _finish_locked(paths, drop_stale)


class FreshMasterFile:
    """A new master key for one rewrap, created lazily under the keyring lock.

    Use as a context manager around the keyring change; call it (inside the change, where the
    keyring lock is held) to get the new key. On exit the swap is finished (or the unused
    key wiped) and ``master.lock`` released.
    """

    def __init__(self, paths: KeyPaths) -> None:
        """Nothing is created until the instance is called."""
        self.paths = paths
        self.kek: LocalKek | None = None
        self._lock = contextlib.ExitStack()

    def __enter__(self) -> FreshMasterFile:
        return self

    def __call__(self) -> LocalKek:
        """Take ``master.lock``, drop a stale pending key, write a new one (0600), return it."""
        if self.kek is None:
            self._lock.enter_context(storage.locked(self.paths.master_lock))
            _finish_locked(self.paths, drop_stale=True)
            self.kek = create_master_file(self.paths.pending_master_key)
        return self.kek

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self.kek is not None:
                _finish_locked(self.paths, drop_stale=True)

    def installed(self) -> bool:
        """Whether ``master.key`` now holds the new key."""
        current = _try_load(self.paths.master_key)
        return self.kek is not None and current is not None and current.kek_id == self.kek.kek_id
