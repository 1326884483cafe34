"""Per-user state the processors keep: consent, events held in the grace window, erasures.

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

from processors.state import ConsentState, dumps, loads

CACHE_SIZE = 20_000
"""Decoded consent states kept in memory (a few MB; bounded for the worker's memory budget)."""


class Held(msgspec.Struct, array_like=True):
    """An event held until the user's first consent arrives or the grace window ends."""

    topic: str
    partition: int
    offset: int
    value: bytes
    deadline: float


_HELD_ENC = msgspec.json.Encoder()
_HELD_DEC = msgspec.json.Decoder(list[Held])


class Erasure(msgspec.Struct):
    """An erasure: when it occurred and, until it applies, the event offsets it waits for.

    ``targets`` maps an event topic to the end offset of the user's partition when the
    erasure was read: events before those offsets were acknowledged before the erasure and
    are decided first. An empty ``targets`` means the erasure has applied (a tombstone).
    """

    ts: float
    partition: int = 0
    targets: dict[str, int] = msgspec.field(default_factory=dict)


_ERASURE_DEC = msgspec.json.Decoder(Erasure)
_AUDIT_DEC = msgspec.json.Decoder(list[dict[str, Any]])


class Store:
    """Typed access to the consent, held-events, erasure and rights-audit tables."""

    def __init__(
        self,
        consent: MutableMapping[bytes, bytes],
        held: MutableMapping[bytes, bytes],
        erased: MutableMapping[bytes, bytes],
        audit: MutableMapping[bytes, bytes],
    ) -> None:
        self._consent = consent
        # Read-through cache of decoded states: the worker owns its partitions, so it is the
        # only writer; cleared on every rebalance (see :meth:`forget_cached`).
        self._states: OrderedDict[str, ConsentState | None] = OrderedDict()
        self._held = held
        self._erased = erased
        self._audit = audit

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
        """Store the user's consent state."""
        self._consent[user.encode()] = dumps(state)
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
        """Events of the user held in the grace window (oldest first)."""
        raw = self._held.get(user.encode())
        return [] if raw is None else _HELD_DEC.decode(raw)

    def put_held(self, user: str, items: list[Held]) -> None:
        """Replace the user's held events (an empty list removes the entry)."""
        key = user.encode()
        if items:
            self._held[key] = _HELD_ENC.encode(items)
        elif key in self._held:
            del self._held[key]

    def held_users(self) -> Iterator[tuple[str, list[Held]]]:
        """Every user with held events (to rebuild the deadline index after a restart)."""
        for key, raw in list(self._held.items()):
            if raw is not None:
                yield key.decode(), _HELD_DEC.decode(raw)

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
        self._erased[user.encode()] = _HELD_ENC.encode(erasure)

    def erase(self, user: str, ts: float) -> None:
        """Forget everything about the user and keep only the time of the erasure."""
        key = user.encode()
        for table in (self._consent, self._held):
            if key in table:
                del table[key]
        self._states.pop(user, None)
        self._erased[key] = _HELD_ENC.encode(Erasure(ts))

    def forget_tombstone(self, user: str) -> None:
        """Drop an erasure tombstone once no late event can refer to it."""
        key = user.encode()
        if key in self._erased:
            del self._erased[key]

    def audit(self, subject: str) -> list[dict[str, Any]]:
        """Rights requests of one consent-ledger subject (a pseudonym, never the raw id)."""
        raw = self._audit.get(subject.encode())
        return [] if raw is None else _AUDIT_DEC.decode(raw)

    def append_audit(self, subject: str, record: dict[str, Any]) -> None:
        """Add one rights request and its outcome to the subject's audit trail."""
        self._audit[subject.encode()] = _HELD_ENC.encode([*self.audit(subject), record])
