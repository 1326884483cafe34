"""Pure changes to a keyring body: add epochs, rotate, reserve, destroy, rewrap.

Each function mutates a freshly loaded :class:`~keys.model.Body` (under the write lock) and
never touches files; :mod:`keys.keyring` commits the result with its audit entry.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import datetime, timedelta

from keys.epochs import epoch_of, epoch_start, epochs_covering, is_expired, next_epoch
from keys.exceptions import InvalidPurpose, NoKeyForEpoch, PolicyMismatch, RefusedOperation
from keys.fieldcrypt import KEY_BYTES, KEY_ID_BYTES
from keys.kek import Kek
from keys.model import AuditAnchor, Body, EpochKeys, KekRef, PurposeKeys, StoredKey
from keys.spec import PurposeSpec
from keys.storage import INTEGRITY_CONTEXT

BODY_VERSION = 1
LATENESS = timedelta(days=7)
"""Events up to this old are still accepted, so their epoch must keep a key."""


def key_context(kind: str, purpose: str, epoch: str, key_id: str) -> bytes:
    """What a wrapped key is bound to: a key cannot be moved to another slot unnoticed."""
    return f"{kind}|{purpose}|{epoch}|{key_id}".encode()


def new_body(kek: Kek, integrity_key: bytes, now: datetime, max_encryptions: int) -> Body:
    """An empty body wrapping ``integrity_key`` under ``kek``."""
    wrapped = kek.wrap(integrity_key, INTEGRITY_CONTEXT)
    return Body(
        version=BODY_VERSION, created_at=now, generation=0,
        kek=KekRef(backend=kek.backend, id=kek.kek_id),
        integrity_key=base64.b64encode(wrapped).decode("ascii"),
        max_encryptions_per_key=max_encryptions, audit=AuditAnchor(seq=0, prev=""), purposes={},
    )


def _new_key(kek: Kek, kind: str, purpose: str, epoch: str, now: datetime,
             taken: set[str]) -> StoredKey:
    key_id = os.urandom(KEY_ID_BYTES).hex()
    while key_id in taken:  # 64 random bits: practically never loops
        key_id = os.urandom(KEY_ID_BYTES).hex()
    taken.add(key_id)
    wrapped = kek.wrap(os.urandom(KEY_BYTES), key_context(kind, purpose, epoch, key_id))
    return StoredKey(id=key_id, status="active", created_at=now,
                     wrapped=base64.b64encode(wrapped).decode("ascii"))


HANDLE = "subject-handle"
"""The wrap context's kind and purpose of the subject-handle key."""


def ensure_handle_key(body: Body, kek: Kek, now: datetime) -> bool:
    """Create the subject-handle key if the keyring has none; True when created."""
    if body.handle_key is not None:
        return False
    body.handle_key = _new_key(kek, HANDLE, HANDLE, "-", now, body.all_key_ids())
    return True


def add_epoch(body: Body, kek: Kek, spec: PurposeSpec, epoch: str, now: datetime) -> EpochKeys:
    """Create the pseudonym key and first encryption key of ``(spec.name, epoch)``."""
    purpose = body.purposes.setdefault(spec.name, PurposeKeys(epoch_kind=spec.epoch, epochs={}))
    epoch_start(purpose.epoch_kind, epoch)  # validates the id
    if epoch in purpose.epochs:
        raise RefusedOperation(f"epoch {epoch} of purpose {spec.name} already exists")
    taken = body.all_key_ids()
    keys = EpochKeys(
        status="live", created_at=now,
        pseudonym_key=_new_key(kek, "pseudonym", spec.name, epoch, now, taken),
        encryption_keys=[_new_key(kek, "enc", spec.name, epoch, now, taken)],
    )
    purpose.epochs[epoch] = keys
    return keys


def live_epoch(body: Body, purpose: str, epoch: str) -> EpochKeys:
    """The keys of a live (purpose, epoch).

    Raises:
        InvalidPurpose: the keyring has no such purpose.
        NoKeyForEpoch: no such epoch, or it was destroyed.
    """
    if purpose not in body.purposes:
        raise InvalidPurpose(f"the keyring has no purpose {purpose!r}: run `keys ensure`")
    keys = body.purposes[purpose].epochs.get(epoch)
    if keys is None or keys.status != "live":
        state = "was destroyed" if keys is not None else "has no keys (run `keys ensure`)"
        raise NoKeyForEpoch(f"epoch {epoch} of purpose {purpose} {state}")
    return keys


def rotate(body: Body, kek: Kek, purpose: str, epoch: str, now: datetime) -> tuple[str, str]:
    """Add a new encryption key and promote it; the old active key becomes decrypt-only.

    Returns:
        ``(old key id, new key id)``.
    """
    keys = live_epoch(body, purpose, epoch)
    new = _new_key(kek, "enc", purpose, epoch, now, body.all_key_ids())
    old = keys.active_key()
    keys.encryption_keys.append(new)
    if old is not None:
        old.status = "decrypt-only"
    return (old.id if old else ""), new.id


def reserve(body: Body, kek: Kek, purpose: str, epoch: str, lease: int,
            now: datetime) -> tuple[str, int, str | None]:
    """Reserve up to ``lease`` encryptions of the active key, rotating at the cap.

    Returns:
        ``(key id, count reserved, id of the key retired by a forced rotation or None)``.
    """
    keys = live_epoch(body, purpose, epoch)
    active = keys.active_key()
    retired = None
    if active is None or active.reserved >= body.max_encryptions_per_key:
        retired, _ = rotate(body, kek, purpose, epoch, now)
        active = keys.active_key()
    assert active is not None  # noqa: S101 - rotate always leaves an active key
    count = min(lease, body.max_encryptions_per_key - active.reserved)
    active.reserved += count
    return active.id, count, retired or None


def destroy_epoch(body: Body, purpose: str, epoch: str, now: datetime) -> list[str]:
    """Erase every wrapped key of one epoch (ids and statuses stay).

    Returns:
        The ids of the keys destroyed.
    """
    keys = live_epoch(body, purpose, epoch)
    destroyed = []
    for key in [keys.pseudonym_key, *keys.encryption_keys]:
        key.status, key.wrapped, key.destroyed_at = "destroyed", None, now
        destroyed.append(key.id)
    keys.status, keys.destroyed_at = "destroyed", now
    return destroyed


def rewrap(body: Body, old: Kek, new: Kek) -> int:
    """Re-wrap the integrity key and every live key from ``old`` to ``new``.

    Returns:
        How many keys were re-wrapped (the integrity key included).
    """
    def move(wrapped: str, context: bytes) -> str:
        key = old.unwrap(base64.b64decode(wrapped), context)
        return base64.b64encode(new.wrap(key, context)).decode("ascii")

    body.integrity_key = move(body.integrity_key, INTEGRITY_CONTEXT)
    count = 1
    for name, purpose in body.purposes.items():
        for epoch, keys in purpose.epochs.items():
            pairs = [("pseudonym", keys.pseudonym_key)]
            pairs += [("enc", key) for key in keys.encryption_keys]
            for kind, key in pairs:
                if key.wrapped is not None:
                    key.wrapped = move(key.wrapped, key_context(kind, name, epoch, key.id))
                    count += 1
    handle = body.handle_key
    if handle is not None and handle.wrapped is not None:
        handle.wrapped = move(handle.wrapped, key_context(HANDLE, HANDLE, "-", handle.id))
        count += 1
    body.kek = KekRef(backend=new.backend, id=new.kek_id)
    return count


def check_specs(body: Body, specs: Iterable[PurposeSpec]) -> None:
    """Refuse specs whose epoch kind differs from the keyring's for the same purpose.

    Raises:
        PolicyMismatch: a purpose changed its epoch kind.
    """
    for spec in specs:
        stored = body.purposes.get(spec.name)
        if stored is not None and stored.epoch_kind != spec.epoch:
            raise PolicyMismatch(
                f"purpose {spec.name} has {stored.epoch_kind} epochs in the keyring but the "
                f"policy says {spec.epoch}: keep the epoch kind, or give the purpose a new name"
            )


def epoch_window(spec: PurposeSpec, now: datetime) -> list[str]:
    """Epochs that must have keys at ``now``: from ``now - LATENESS`` to the next epoch."""
    window = epochs_covering(spec.epoch, now - LATENESS, now)
    return [*window, next_epoch(spec.epoch, epoch_of(spec.epoch, now))]


def ensure_epochs(body: Body, kek: Kek, specs: Iterable[PurposeSpec], now: datetime) -> list[str]:
    """Create keys for missing epochs of the window; never recreate destroyed or expired ones.

    Returns:
        ``"purpose:epoch"`` of each epoch created.
    """
    specs = list(specs)
    check_specs(body, specs)
    created = [f"{HANDLE}:-"] if ensure_handle_key(body, kek, now) else []
    for spec in specs:
        stored = body.purposes.get(spec.name)
        for epoch in epoch_window(spec, now):
            if stored is not None and epoch in stored.epochs:
                continue
            if is_expired(spec.epoch, epoch, spec.retention_days, now):
                continue
            add_epoch(body, kek, spec, epoch, now)
            stored = body.purposes[spec.name]
            created.append(f"{spec.name}:{epoch}")
    return created
