"""Purpose keys: keyring, KEK backends, field encryption, pseudonyms, audit log.

Usage::

    ring = keys.open_keyring(settings, policy.key_specs())
    token = ring.encrypt("geolocation", "coords", b"48.85,2.35", at=occurred_at)
    ring.decrypt("geolocation", "coords", token)   # key looked up by the id in the token
    ring.pseudonym("personalisation", user_id, at=occurred_at)
    ring.refresh_if_due()                           # per batch: picks up rotations

See DESIGN.md section 7 and docs/ARCHITECTURE.md "Keys API".
"""

from __future__ import annotations

from keys.admin import Keyring
from keys.audit import AuditEntry, AuditReport
from keys.epochs import EPOCH_KINDS, epoch_bounds, epoch_of, next_epoch
from keys.exceptions import (
    AuditChainBroken,
    InvalidEpoch,
    InvalidPurpose,
    InvalidToken,
    KekError,
    KekMismatch,
    KeyDestroyed,
    KeyringBusy,
    KeyringCorrupt,
    KeyringExists,
    KeyringNotFound,
    KeyringRolledBack,
    KeysError,
    NoKeyForEpoch,
    PolicyMismatch,
    RefusedOperation,
    TokenError,
)
from keys.kek import Kek, LocalKek, kek_from_settings
from keys.lifecycle import init_keyring, open_keyring
from keys.listing import KeyRow
from keys.paths import KeyPaths
from keys.spec import PurposeSpec

__all__ = [
    "EPOCH_KINDS",
    "AuditChainBroken",
    "AuditEntry",
    "AuditReport",
    "InvalidEpoch",
    "InvalidPurpose",
    "InvalidToken",
    "Kek",
    "KekError",
    "KekMismatch",
    "KeyDestroyed",
    "KeyPaths",
    "KeyRow",
    "Keyring",
    "KeyringBusy",
    "KeyringCorrupt",
    "KeyringExists",
    "KeyringNotFound",
    "KeyringRolledBack",
    "KeysError",
    "LocalKek",
    "NoKeyForEpoch",
    "PolicyMismatch",
    "PurposeSpec",
    "RefusedOperation",
    "TokenError",
    "epoch_bounds",
    "epoch_of",
    "init_keyring",
    "kek_from_settings",
    "next_epoch",
    "open_keyring",
]
