"""The rights audit trail per consent-ledger subject: one key per request, bounded.

Each rights request is one small write (its record under its own key, then the subject's
index), never a rewrite of the subject's list; only the latest ``audit_max`` requests are kept
and the older ones are counted (``omitted``), so a subject's trail is bounded whatever is sent
for them and still says how many requests there were.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import msgspec

from processors.held import event_key
from processors.limits import Limits, check_size


class AuditIndex(msgspec.Struct):
    """Which requests of a subject are kept (``[first, next)``) and how many were dropped.

    A JSON object: a trail written before the bound (a JSON list of records) stays readable.
    """

    first: int = 0
    next: int = 0
    omitted: int = 0


class AuditTrail(msgspec.Struct):
    """One subject's kept rights requests (oldest first) and the count of older ones."""

    records: list[dict[str, Any]] = msgspec.field(default_factory=list)
    omitted: int = 0


_ENC = msgspec.json.Encoder()
_INDEX_DEC = msgspec.json.Decoder(AuditIndex | list[dict[str, Any]])
_RECORD_DEC = msgspec.json.Decoder(dict[str, Any])


class AuditLog:
    """Typed access to the audit index table and the audit entry table."""

    def __init__(
        self,
        index: MutableMapping[bytes, bytes],
        entries: MutableMapping[bytes, bytes],
        limits: Limits,
    ) -> None:
        self._index = index
        self._entries = entries
        self.limits = limits

    def trail(self, subject: str) -> AuditTrail:
        """The subject's kept requests and the count of older ones."""
        raw = self._index.get(subject.encode())
        found = None if raw is None else _INDEX_DEC.decode(raw)
        if isinstance(found, list):  # written before the trail was bounded
            return AuditTrail(found)
        idx = found or AuditIndex()
        records = (self._entries.get(event_key(subject, s)) for s in range(idx.first, idx.next))
        return AuditTrail([_RECORD_DEC.decode(r) for r in records if r is not None], idx.omitted)

    def append(self, subject: str, record: dict[str, Any]) -> None:
        """Add one request; the oldest beyond ``audit_max`` are deleted and counted."""
        idx = self._index_of(subject)
        key, value = event_key(subject, idx.next), _ENC.encode(record)
        check_size("rights_audit_entry", key, value, self.limits.value_max_bytes)
        self._entries[key] = value
        idx.next += 1
        self._trim(subject, idx)
        self._index[subject.encode()] = _ENC.encode(idx)

    def _index_of(self, subject: str) -> AuditIndex:
        raw = self._index.get(subject.encode())
        found = None if raw is None else _INDEX_DEC.decode(raw)
        if not isinstance(found, list):
            return found or AuditIndex()
        # A list written before: its records move to entries of their own, once.
        idx = AuditIndex()
        for record in found:
            self._entries[event_key(subject, idx.next)] = _ENC.encode(record)
            idx.next += 1
            self._trim(subject, idx)
        return idx

    def _trim(self, subject: str, idx: AuditIndex) -> None:
        while idx.next - idx.first > self.limits.audit_max:
            key = event_key(subject, idx.first)
            if key in self._entries:
                del self._entries[key]
            idx.first += 1
            idx.omitted += 1
