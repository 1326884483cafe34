"""The rights audit trail per user, keyed by their subject handle: one key per request, bounded.

Each rights request is one small write (its record under its own key, then the subject's
index), never a rewrite of the subject's list; only the latest ``audit_max`` requests are kept
and the older ones are counted (``omitted``), so a subject's trail is bounded whatever is sent
for them and still says how many requests there were. Keyed by the never-rotating subject
handle, a user has one trail (not one per consent-ledger epoch), and no raw id: records carry
the request's ledger-keyed ref, never its raw ``event_id``. An erasure deletes every record
but the erasure requests themselves (:meth:`AuditLog.keep_only`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from processors.held import event_key
from processors.limits import Limits, check_size
from processors.subject import Subject
from processors.table import Table
from schemas.records import AuditIndex, encode


class AuditTrail(msgspec.Struct):
    """One subject's kept rights requests (oldest first) and the count of older ones."""

    records: list[dict[str, Any]] = msgspec.field(default_factory=list)
    omitted: int = 0


_INDEX_DEC = msgspec.json.Decoder(AuditIndex | list[dict[str, Any]])
_RECORD_DEC = msgspec.json.Decoder(dict[str, Any])


class AuditLog:
    """Typed access to the audit index table and the audit entry table."""

    def __init__(self, index: Table, entries: Table, limits: Limits) -> None:
        self._index = index
        self._entries = entries
        self.limits = limits

    def trail(self, subject: Subject) -> AuditTrail:
        """The subject's kept requests and the count of older ones."""
        raw = self._index.get(subject.partition, subject.handle)
        found = None if raw is None else _INDEX_DEC.decode(raw)
        if isinstance(found, list):  # written before the trail was bounded
            return AuditTrail(found)
        idx = found or AuditIndex()
        p, h = subject.partition, subject.handle
        records = (self._entries.get(p, event_key(h, s)) for s in range(idx.first, idx.next))
        return AuditTrail([_RECORD_DEC.decode(r) for r in records if r is not None], idx.omitted)

    def append(self, subject: Subject, record: dict[str, Any]) -> None:
        """Add one request; the oldest beyond ``audit_max`` are deleted and counted."""
        idx = self._index_of(subject)
        key, value = event_key(subject.handle, idx.next), encode(record)
        check_size("rights_audit_entry", key, value, self.limits.value_max_bytes)
        self._entries.put(subject.partition, key, value)
        idx.next += 1
        self._trim(subject, idx)
        self._index.put(subject.partition, subject.handle, encode(idx))

    def keep_only(self, subject: Subject, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Delete the subject's records ``keep`` refuses (erasure: all but erasure requests).

        The kept ones move to the front of a fresh range, so the trail stays contiguous; the
        count of older requests dropped for the bound is forgotten with them.
        """
        kept = [r for r in self.trail(subject).records if keep(r)]
        idx = self._index_of(subject)
        for seq in range(idx.first, idx.next):
            self._entries.delete(subject.partition, event_key(subject.handle, seq))
        fresh = AuditIndex(idx.next, idx.next)
        for record in kept:
            self._entries.put(
                subject.partition, event_key(subject.handle, fresh.next), encode(record)
            )
            fresh.next += 1
        if fresh.next == fresh.first:
            self._index.delete(subject.partition, subject.handle)
        else:
            self._index.put(subject.partition, subject.handle, encode(fresh))

    def _index_of(self, subject: Subject) -> AuditIndex:
        raw = self._index.get(subject.partition, subject.handle)
        found = None if raw is None else _INDEX_DEC.decode(raw)
        if not isinstance(found, list):
            return found or AuditIndex()
        # A list written before: its records move to entries of their own, once.
        idx = AuditIndex()
        for record in found:
            key = event_key(subject.handle, idx.next)
            self._entries.put(subject.partition, key, encode(record))
            idx.next += 1
            self._trim(subject, idx)
        return idx

    def _trim(self, subject: Subject, idx: AuditIndex) -> None:
        while idx.next - idx.first > self.limits.audit_max:
            self._entries.delete(subject.partition, event_key(subject.handle, idx.first))
            idx.first += 1
            idx.omitted += 1
