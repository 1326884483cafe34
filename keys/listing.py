"""Key metadata for ``keys list``: ids, statuses, dates and counters, never key material."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from keys.epochs import epoch_start
from keys.model import Body


@dataclasses.dataclass(frozen=True)
class KeyRow:
    """One key as listed: no wrapped or plain key bytes."""

    purpose: str
    epoch: str
    epoch_status: str
    role: str
    """``pseudonym`` or ``encryption``."""
    key_id: str
    status: str
    created_at: datetime
    destroyed_at: datetime | None
    reserved: int


def key_rows(body: Body) -> list[KeyRow]:
    """Every key of ``body``, by purpose then epoch (oldest first)."""
    rows: list[KeyRow] = []
    for name in sorted(body.purposes):
        purpose = body.purposes[name]
        for epoch in sorted(purpose.epochs, key=lambda e: epoch_start(purpose.epoch_kind, e)):
            keys = purpose.epochs[epoch]
            roles = [("pseudonym", keys.pseudonym_key)]
            roles += [("encryption", key) for key in keys.encryption_keys]
            rows.extend(
                KeyRow(name, epoch, keys.status, role, key.id, key.status, key.created_at,
                       key.destroyed_at, key.reserved)
                for role, key in roles
            )
    return rows
