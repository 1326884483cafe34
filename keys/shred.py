"""Crypto-shredding that survives backups: destroy epochs and retire the KEK in one write.

Removing a destroyed key's wrapped bytes from ``keyring.json`` is not enough: any older copy
of the file (a backup, a snapshot) still holds them, wrapped by the same KEK. So every destroy
and expiry also moves the remaining keys to a fresh KEK in the same atomic keyring write, and
the old KEK is deleted:

- ``file`` backend: a new ``master.key`` is generated and the old one overwritten and removed
  (crash-safe, see :mod:`keys.masterfile`). Fully automatic, so the sink's scheduled expiry
  does it too.
- ``env`` backend: the process cannot change its own environment, so the operator supplies the
  new master key (``keys destroy``/``keys expire`` read it from stdin) and then replaces
  ``PRIVACY_PIPELINE_MASTER_KEY`` everywhere. Without a new key the command refuses and
  destroys nothing: there is never a destroyed epoch whose keys the KEK in service still opens
  in an old copy. The sink's expiry logs the same refusal until an operator runs
  ``keys expire`` with a new key.

Nothing here prints or logs key material.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from keys.admin import Keyring, NewKek
from keys.exceptions import KekError, RefusedOperation
from keys.kek import Kek, LocalKek, decode_master_key
from keys.masterfile import FreshMasterFile, wipe

ENV_NEEDS_KEY = (
    "with PRIVACY_PIPELINE_KEK=env, destroying keys also retires the KEK (so that old copies of "
    "keyring.json open nothing destroyed): run `privacy-pipeline keys {verb}` with a new master "
    "key on stdin (e.g. from `openssl rand -base64 32`), then set PRIVACY_PIPELINE_MASTER_KEY to "
    "it and restart the workers; nothing was destroyed"
)


@dataclasses.dataclass(frozen=True)
class Shredded:
    """What a destroy or expiry did."""

    epochs: list[str]
    """Epochs destroyed (``"purpose:epoch"`` for expire, ``"epoch"`` for destroy)."""
    kek: Kek | None
    """The KEK the keyring moved to; ``None`` when nothing was destroyed."""


def destroy(ring: Keyring, purpose: str, before: str, new_master: str | None = None) -> Shredded:
    """Destroy ``purpose``'s epochs before ``before`` and retire the KEK (see module doc).

    Raises:
        RefusedOperation: env backend without ``new_master``, or a new key equal to the current.
        KekError: the new master key is malformed, or ``master.key`` was not replaced.
    """
    return _shred(ring, lambda new: ring.destroy(purpose, before, new), new_master, "destroy")


def expire(ring: Keyring, new_master: str | None = None) -> Shredded:
    """Destroy every epoch past its retention and retire the KEK (see module doc).

    Raises:
        RefusedOperation, KekError: as for :func:`destroy`.
    """
    return _shred(ring, ring.expire, new_master, "expire")


def _shred(ring: Keyring, verb: Callable[[NewKek], list[str]], new_master: str | None,
           name: str) -> Shredded:
    paths = ring.paths
    if ring.kek.backend == "file" and new_master is None:
        with FreshMasterFile(paths) as fresh:
            done = verb(fresh)
        if done and not fresh.installed():
            raise KekError(f"{paths.master_key} was not replaced by the new master key: check it")
        return Shredded(done, fresh.kek if done else None)

    def supply() -> Kek:
        if not new_master or not new_master.strip():
            raise RefusedOperation(ENV_NEEDS_KEY.format(verb=name))
        return LocalKek(decode_master_key(new_master, "the new master key"), "env")

    done = verb(supply)
    if done:
        wipe(paths.master_key)  # a file KEK left from before a switch to env opens old copies
    return Shredded(done, ring.kek if done else None)
