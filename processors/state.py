"""Per-user consent state: what a user granted or denied, for which purpose, and when.

The state is a small history per purpose, applied last-writer-wins by the consent event's own
``occurred_at``, so decisions are "as of the event's time" and out-of-order updates land where
they belong. Objections (rights/1) are kept as the time from which a purpose is objected to.
Everything is plain data (msgspec Structs) so the faust table can store it as compact JSON.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

import msgspec

# Re-exported (consent and the tests import it from here).
from schemas.records import Transition as Transition


class PurposeHistory(msgspec.Struct, array_like=True, forbid_unknown_fields=False):
    """Consent changes for one purpose, sorted by time (epoch seconds)."""

    times: list[float] = msgspec.field(default_factory=list)
    granted: list[bool] = msgspec.field(default_factory=list)
    ever: bool = False
    """Granted at some time before ``times[0]`` (changes forgotten by :meth:`cap`)."""

    def as_of(self, ts: float) -> bool | None:
        """State at ``ts``: True/False, or None when nothing was said by then."""
        i = bisect.bisect_right(self.times, ts)
        return self.granted[i - 1] if i else None

    def granted_before(self, ts: float) -> bool:
        """Whether the purpose was granted at any time at or before ``ts``."""
        i = bisect.bisect_right(self.times, ts)
        return self.ever or any(self.granted[:i])

    def set(self, ts: float, granted: bool) -> None:
        """Record a change at ``ts``; a second change at the same instant replaces the first."""
        i = bisect.bisect_left(self.times, ts)
        if i < len(self.times) and self.times[i] == ts:
            self.granted[i] = granted
            return
        self.times.insert(i, ts)
        self.granted.insert(i, granted)

    def prune(self, horizon: float) -> None:
        """Forget changes older than ``horizon`` except the one still in force at it.

        Keeps whether the purpose was ever granted (for the withdrawn/no-consent distinction)
        by keeping the latest grant before the horizon as well.
        """
        i = bisect.bisect_right(self.times, horizon)
        if i <= 1:
            return
        keep = {i - 1}
        grants = [j for j in range(i - 1) if self.granted[j]]
        if grants:
            keep.add(grants[-1])
        head = sorted(keep)
        self.times = [self.times[j] for j in head] + self.times[i:]
        self.granted = [self.granted[j] for j in head] + self.granted[i:]

    def cap(self, most: int) -> None:
        """Keep only the ``most`` latest changes (a user flip-flopping cannot grow the state).

        What is lost: the state in force before the oldest change kept. An event older than
        it then reads "nothing said" and is dropped (default deny), never kept on a forgotten
        grant: fail-closed. Whether a grant came before is kept (``ever``), so such an event
        is labelled ``dropped_withdrawn`` rather than ``dropped_no_consent`` (a drop either way).
        """
        cut = len(self.times) - most
        if cut <= 0:
            return
        self.ever = self.ever or any(self.granted[:cut])
        self.times = self.times[cut:]
        self.granted = self.granted[cut:]


class ConsentState(msgspec.Struct, forbid_unknown_fields=False):
    """Everything the pipeline keeps about one user's consent."""

    purposes: dict[str, PurposeHistory] = msgspec.field(default_factory=dict)
    objections: dict[str, float] = msgspec.field(default_factory=dict)
    first_ts: float | None = None
    """Time of the user's first consent record (drives the grace window)."""
    verified: dict[str, bool] = msgspec.field(default_factory=dict)
    """Per purpose: whether the last transition applied came with a verified subject token."""

    def as_of(self, purpose: str, ts: float) -> bool | None:
        """Consent for ``purpose`` at ``ts`` (None: nothing said by then)."""
        history = self.purposes.get(purpose)
        return None if history is None else history.as_of(ts)

    def ever_granted(self, purpose: str, ts: float) -> bool:
        """Whether ``purpose`` was granted at some time at or before ``ts``."""
        history = self.purposes.get(purpose)
        return False if history is None else history.granted_before(ts)

    def objected(self, purpose: str, ts: float) -> bool:
        """Whether an objection to ``purpose`` is in force at ``ts``."""
        since = self.objections.get(purpose)
        return since is not None and since <= ts

    def first_record_state(self, purpose: str) -> bool | None:
        """The state the first consent record gave ``purpose`` (grace window rule)."""
        if self.first_ts is None:
            return None
        return self.as_of(purpose, self.first_ts)

    def apply(self, ts: float, changes: Mapping[str, bool]) -> dict[str, Transition]:
        """Apply one consent event's changes at ``ts``.

        Returns:
            The ledger transition per purpose whose state changed at ``ts``.
        """
        self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
        transitions: dict[str, Transition] = {}
        for purpose, granted in changes.items():
            history = self.purposes.setdefault(purpose, PurposeHistory())
            before = history.as_of(ts - 1e-6)
            ever = history.granted_before(ts - 1e-6)
            history.set(ts, granted)
            if granted and before is not True:
                transitions[purpose] = "granted"
            elif not granted and before is True:
                transitions[purpose] = "withdrawn"
            elif not granted and before is None and not ever:
                transitions[purpose] = "denied"
        return transitions

    def object_to(self, ts: float, purposes: Iterable[str]) -> None:
        """Record an objection to ``purposes`` from ``ts`` (the earliest objection wins)."""
        for purpose in purposes:
            current = self.objections.get(purpose)
            self.objections[purpose] = ts if current is None else min(current, ts)

    def prune(self, horizon: float) -> None:
        """Drop history older than ``horizon`` that no decision can need any more."""
        for history in self.purposes.values():
            history.prune(horizon)

    def cap(self, most: int) -> None:
        """Keep at most ``most`` changes per purpose (see :meth:`PurposeHistory.cap`).

        Purposes are the policy's (unknown ones are ignored when applied), so the whole state
        is bounded by purposes x ``most`` changes.
        """
        for history in self.purposes.values():
            history.cap(most)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ConsentState)


def dumps(state: ConsentState) -> bytes:
    """Serialise a state for the consent table."""
    return _ENCODER.encode(state)


def loads(raw: bytes) -> ConsentState:
    """Deserialise a state stored by :func:`dumps`."""
    return _DECODER.decode(raw)
