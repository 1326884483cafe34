"""The keyring document: typed msgspec structs, validated on decode.

Only wrapped (KEK-encrypted) key material is ever stored; a destroyed key keeps its id and
status (so a reader learns "destroyed", not "unknown") and loses its wrapped bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

FORMAT = "privacy-pipeline-keyring/1"

KeyStatus = Literal["active", "decrypt-only", "destroyed"]
EpochStatus = Literal["live", "destroyed"]


class StoredKey(msgspec.Struct, forbid_unknown_fields=True):
    """One key: random id (16 hex), status, wrapped material (``None`` once destroyed)."""

    id: str
    status: KeyStatus
    created_at: datetime
    wrapped: str | None
    destroyed_at: datetime | None = None
    reserved: int = 0
    """Encryptions reserved by processes so far (encryption keys only)."""


class EpochKeys(msgspec.Struct, forbid_unknown_fields=True):
    """Keys of one (purpose, epoch): one pseudonym key, encryption keys (last one active)."""

    status: EpochStatus
    created_at: datetime
    pseudonym_key: StoredKey
    encryption_keys: list[StoredKey]
    destroyed_at: datetime | None = None

    def active_key(self) -> StoredKey | None:
        """The encryption key new data uses, if the epoch is live."""
        for key in self.encryption_keys:
            if key.status == "active":
                return key
        return None


class PurposeKeys(msgspec.Struct, forbid_unknown_fields=True):
    """All epochs of one purpose; ``epoch_kind`` never changes for a purpose."""

    epoch_kind: str
    epochs: dict[str, EpochKeys]


class KekRef(msgspec.Struct, forbid_unknown_fields=True):
    """Which KEK wraps the keys (public fingerprint only)."""

    backend: str
    id: str


class AuditAnchor(msgspec.Struct, forbid_unknown_fields=True):
    """The audit entry written with this keyring version: its ``seq`` and ``prev`` hash."""

    seq: int
    prev: str


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Everything the MAC covers."""

    version: int
    created_at: datetime
    generation: int
    kek: KekRef
    integrity_key: str
    """The wrapped random key from which the keyring MAC and audit MAC keys are derived."""
    max_encryptions_per_key: int
    audit: AuditAnchor
    purposes: dict[str, PurposeKeys]
    handle_key: StoredKey | None = None
    """The subject-handle key: keys every per-user record instead of the raw user id. Never
    rotates (a handle must name the same user for as long as the pipeline holds anything of
    them); created by ``keys ensure`` on keyrings made before it existed."""

    def all_key_ids(self) -> set[str]:
        """Every key id in the keyring (to keep new random ids unique)."""
        ids: set[str] = set()
        for purpose in self.purposes.values():
            for epoch in purpose.epochs.values():
                ids.add(epoch.pseudonym_key.id)
                ids.update(key.id for key in epoch.encryption_keys)
        if self.handle_key is not None:
            ids.add(self.handle_key.id)
        return ids


class KeyringFile(msgspec.Struct, forbid_unknown_fields=True):
    """The file: format tag, body and the body's HMAC-SHA256 (hex)."""

    format: str
    body: Body
    mac: str
