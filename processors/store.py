"""Per-user state the processors keep: consent, events held in the grace window, erasures.

Every value is bounded per user (:class:`~processors.limits.Limits`) and checked against the
bound under the broker's message size before it is written (:func:`~processors.limits.check_size`).

Backed by ``MutableMapping[bytes, bytes]`` tables keyed by the raw user id (the rights audit
by the consent-ledger pseudonym): faust tables in the
worker (changelogged to Kafka, so they survive a crash), plain dicts in unit tests. Values are
compact msgspec JSON.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Any

import msgspec

from processors.audit import AuditLog, AuditTrail
from processors.exceptions import StateTooLarge
from processors.held import Held, HeldEvents
from processors.limits import Limits, check_size
from processors.state import ConsentState, dumps, loads

CACHE_SIZE = 20_000
"""Decoded consent states kept in memory (a few MB; bounded for the worker's memory budget)."""


class Erasure(msgspec.Struct):
    """An erasure: when it occurred and, until it applies, the event offsets it waits for.

    ``targets`` maps an event topic to the end offset of the user's partition when the
    erasure was read: events before those offsets were acknowledged before the erasure and
    are decided first. An empty ``targets`` means the erasure has applied (a tombstone).
    """

    ts: float
    partition: int = 0
    targets: dict[str, int] = msgspec.field(default_factory=dict)


_ENC = msgspec.json.Encoder()
_ERASURE_DEC = msgspec.json.Decoder(Erasure)


class Store:
    """Typed access to the consent, held-events, erasure and rights-audit tables."""

    def __init__(
        self,
        consent: MutableMapping[bytes, bytes],
        held: MutableMapping[bytes, bytes],
        erased: MutableMapping[bytes, bytes],
        audit: MutableMapping[bytes, bytes],
        held_events: MutableMapping[bytes, bytes] | None = None,
        audit_entries: MutableMapping[bytes, bytes] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self._consent = consent
        # Read-through cache of decoded states: the worker owns its partitions, so it is the
        # only writer; cleared on every rebalance (see :meth:`forget_cached`).
        self._states: OrderedDict[str, ConsentState | None] = OrderedDict()
        self.holds = HeldEvents(held, {} if held_events is None else held_events, self.limits)
        self._erased = erased
        self.audits = AuditLog(audit, {} if audit_entries is None else audit_entries, self.limits)

    def state(self, user: str) -> ConsentState | None:
        """The user's consent state, or None when the pipeline knows nothing of them."""
        if user in self._states:
            self._states.move_to_end(user)
            return self._states[user]
        raw = self._consent.get(user.encode())
        state = None if raw is None else loads(raw)
        self._remember(user, state)
        return state

    def put_state(self, user: str, state: ConsentState) -> None:
        """Store the user's consent state, capped to the limits' history per purpose."""
        state.cap(self.limits.history_max)
        key, value = user.encode(), dumps(state)
        try:
            check_size("consent", key, value, self.limits.value_max_bytes)
        except StateTooLarge:
            self._states.pop(user, None)  # the cached object was changed in place: re-read
            raise
        self._consent[key] = value
        self._remember(user, state)

    def _remember(self, user: str, state: ConsentState | None) -> None:
        self._states[user] = state
        self._states.move_to_end(user)
        if len(self._states) > CACHE_SIZE:
            self._states.popitem(last=False)

    def forget_cached(self) -> None:
        """Drop cached states (partitions may have moved to another worker)."""
        self._states.clear()

    def held(self, user: str) -> list[Held]:
        """Events of the user held in the grace window, oldest first (read-only view)."""
        idx = self.holds.index(user)
        if idx is None:
            return []
        found = (self.holds.peek(user, seq) for seq in range(idx.first, idx.next))
        return [h for h in found if h is not None]

    def erasure(self, user: str) -> Erasure | None:
        """The user's erasure, pending or applied (None when there is none)."""
        raw = self._erased.get(user.encode())
        return None if raw is None else _ERASURE_DEC.decode(raw)

    def erasures(self) -> Iterator[tuple[str, Erasure]]:
        """Every erasure kept (to find pending ones after a restart)."""
        for key, raw in list(self._erased.items()):
            if raw is not None:
                yield key.decode(), _ERASURE_DEC.decode(raw)

    def put_erasure(self, user: str, erasure: Erasure) -> None:
        """Record a pending erasure (it applies later through :meth:`erase`)."""
        key, value = user.encode(), _ENC.encode(erasure)
        check_size("erased", key, value, self.limits.value_max_bytes)
        self._erased[key] = value

    def erase(self, user: str, ts: float) -> None:
        """Forget everything about the user and keep only the time of the erasure."""
        key = user.encode()
        if key in self._consent:
            del self._consent[key]
        self.holds.drop(user)
        self._states.pop(user, None)
        self._erased[key] = _ENC.encode(Erasure(ts))

    def forget_tombstone(self, user: str) -> None:
        """Drop an erasure tombstone once no late event can refer to it."""
        key = user.encode()
        if key in self._erased:
            del self._erased[key]

    def audit(self, subject: str) -> list[dict[str, Any]]:
        """Rights requests of one consent-ledger subject (a pseudonym, never the raw id)."""
        return self.audits.trail(subject).records

    def audit_trail(self, subject: str) -> AuditTrail:
        """The subject's kept rights requests and the count of older ones dropped."""
        return self.audits.trail(subject)

    def append_audit(self, subject: str, record: dict[str, Any]) -> None:
        """Add one rights request to the subject's trail (bounded, see :mod:`processors.audit`)."""
        self.audits.append(subject, record)
