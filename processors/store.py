"""Per-user state the processors keep: consent, events held in the grace window, erasures,
the rights audit.

Every value is bounded per user (:class:`~processors.limits.Limits`) and checked against the
bound under the broker's message size before it is written (:func:`~processors.limits.check_size`).

Every key is the user's subject handle (:mod:`processors.subject`), never the raw id, and every
access names the subject's partition (:class:`~processors.table.Table`): faust tables in the
worker (changelogged to Kafka, so they survive a crash), dict-backed tables in unit tests.
Values are compact msgspec JSON and hold no raw id (the held events' original bytes do, until
released or erased). :meth:`Store.erase` is the one place an erasure applies to state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Any

import msgspec

from processors.audit import AuditLog, AuditTrail
from processors.exceptions import StateTooLarge
from processors.held import Held, HeldEvents
from processors.legacy import SubjectOf, move_held, move_values
from processors.limits import Limits, check_size
from processors.state import ConsentState, dumps, loads
from processors.subject import Subject
from processors.table import Table, as_table, homed

# Erasure is re-exported for the engine (its old import path).
from schemas.records import Erasure as Erasure
from schemas.records import encode

CACHE_SIZE = 20_000
"""Decoded consent states kept in memory (a few MB; bounded for the worker's memory budget)."""

AnyTable = Table | MutableMapping[bytes, bytes]


_ERASURE_DEC = msgspec.json.Decoder(Erasure)


def is_erasure_record(record: dict[str, Any]) -> bool:
    """Whether an audit record is an erasure request (the one kind an erasure keeps)."""
    return record.get("right") == "erasure"


class Store:
    """Typed access to the consent, held-events, erasure and rights-audit tables."""

    def __init__(
        self,
        consent: AnyTable,
        held: AnyTable,
        erased: AnyTable,
        audit: AnyTable,
        held_events: AnyTable | None = None,
        audit_entries: AnyTable | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self._consent = as_table(consent)
        # Read-through cache of decoded states: the worker owns its partitions, so it is the
        # only writer; cleared on every rebalance (see :meth:`forget_cached`).
        self._states: OrderedDict[bytes, ConsentState | None] = OrderedDict()
        # States changed in this batch, by handle: written once each by commit().
        self._dirty: dict[bytes, tuple[int, bytes]] = {}
        self._held, self._held_events = as_table(held), as_table(held_events)
        self.holds = HeldEvents(self._held, self._held_events, self.limits)
        self._erased = as_table(erased)
        self.audits = AuditLog(as_table(audit), as_table(audit_entries), self.limits)

    def adopt_raw_keys(self, subject_of: SubjectOf) -> int:
        """Move state written before handles (raw-id keys) to handle keys; how many keys.

        See :mod:`processors.legacy`. Run on recovery, before the indexes are rebuilt.
        """

        def home(value: bytes, subject: Subject) -> bytes:
            erasure = _ERASURE_DEC.decode(value)
            erasure.home = subject.partition
            return encode(erasure)

        moved = move_values(self._consent, subject_of, lambda value, _: value)
        moved += move_held(self._held, self._held_events, subject_of)
        moved += move_values(self._erased, subject_of, home)
        if moved:
            self._states.clear()
        return moved

    def state(self, subject: Subject) -> ConsentState | None:
        """The subject's consent state, or None when the pipeline knows nothing of them."""
        handle = subject.handle
        if handle in self._states:
            self._states.move_to_end(handle)
            return self._states[handle]
        pending = self._dirty.get(handle)
        raw = pending[1] if pending is not None else self._consent.get(subject.partition, handle)
        state = None if raw is None else loads(raw)
        self._remember(handle, state)
        return state

    def put_state(self, subject: Subject, state: ConsentState) -> None:
        """Store the subject's consent state, capped to the limits' history per purpose.

        Checked against the size bound now (a refused state changes nothing); written to the
        table by :meth:`commit`, once per batch whatever the user's records in it.
        """
        state.cap(self.limits.history_max)
        key, value = subject.handle, dumps(state)
        try:
            check_size("consent", key, value, self.limits.value_max_bytes)
        except StateTooLarge:
            self._states.pop(key, None)  # the cached object was changed in place: re-read
            raise
        self._dirty[key] = (subject.partition, value)
        self._remember(key, state)

    def commit(self) -> None:
        """Write the states changed since the last commit (before the batch's outputs leave:
        a crash after an output was sent must not lose the state that decided it)."""
        for handle, (partition, value) in self._dirty.items():
            self._consent.put(partition, handle, value)
        self._dirty.clear()

    def _remember(self, handle: bytes, state: ConsentState | None) -> None:
        self._states[handle] = state
        self._states.move_to_end(handle)
        if len(self._states) > CACHE_SIZE:
            self._states.popitem(last=False)

    def forget_cached(self) -> None:
        """Drop cached states and uncommitted changes (partitions may have moved to another
        worker; a failed batch is decided again from the table as committed)."""
        self._states.clear()
        self._dirty.clear()

    def held(self, subject: Subject) -> list[Held]:
        """Events of the subject held in the grace window, oldest first (read-only view)."""
        idx = self.holds.index(subject)
        if idx is None:
            return []
        found = (self.holds.peek(subject, seq) for seq in range(idx.first, idx.next))
        return [h for h in found if h is not None]

    def erasure(self, subject: Subject) -> Erasure | None:
        """The subject's erasure, pending or applied (None when there is none)."""
        raw = self._erased.get(subject.partition, subject.handle)
        return None if raw is None else _ERASURE_DEC.decode(raw)

    def erasures(self) -> Iterator[tuple[Subject, Erasure]]:
        """Every erasure kept (to find pending ones and tombstones after a restart).

        Keys written before handles (raw ids) are skipped: nothing reads them any more.
        """
        return homed(self._erased, _ERASURE_DEC.decode)

    def put_erasure(self, subject: Subject, erasure: Erasure) -> None:
        """Record a pending erasure (it applies later through :meth:`erase`)."""
        erasure.home = subject.partition
        key, value = subject.handle, encode(erasure)
        check_size("erased", key, value, self.limits.value_max_bytes)
        self._erased.put(subject.partition, key, value)

    def erase(self, subject: Subject, ts: float) -> None:
        """Forget everything about the subject and keep only the time of the erasure.

        Every table's key of the subject is deleted (a changelog tombstone each); the rights
        audit keeps the erasure requests only (DESIGN: every rights request gets an audit
        record); the erasure table keeps ``{ts}`` until :meth:`forget_tombstone`.
        """
        self._dirty.pop(subject.handle, None)
        self._consent.delete(subject.partition, subject.handle)
        self.holds.drop(subject)
        self.audits.keep_only(subject, is_erasure_record)
        self._states.pop(subject.handle, None)
        tombstone = Erasure(ts, home=subject.partition)
        self._erased.put(subject.partition, subject.handle, encode(tombstone))

    def forget_tombstone(self, subject: Subject) -> None:
        """Drop an erasure tombstone once no late event can refer to it."""
        self._erased.delete(subject.partition, subject.handle)

    def audit(self, subject: Subject) -> list[dict[str, Any]]:
        """The subject's kept rights requests (no raw id in them)."""
        return self.audits.trail(subject).records

    def audit_trail(self, subject: Subject) -> AuditTrail:
        """The subject's kept rights requests and the count of older ones dropped."""
        return self.audits.trail(subject)

    def append_audit(self, subject: Subject, record: dict[str, Any]) -> None:
        """Add one rights request to the subject's trail (bounded, see :mod:`processors.audit`)."""
        self.audits.append(subject, record)
