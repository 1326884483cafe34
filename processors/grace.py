"""The grace window: events of users without any consent answer yet, held, then decided.

An event is held (:mod:`processors.held`: one small table write) when its user has no consent
record and it is recent enough that the banner answer may still be on its way; it is decided
when the answer arrives (:meth:`Grace.release`), when its deadline passes
(:meth:`Grace.expire`), or at once when too many events are held overall (the memory bound).
The deadline heap and the held count are in memory, rebuilt from the table on recovery.
"""

from __future__ import annotations

import heapq
from typing import Protocol

from processors.context import Runtime
from processors.envelopes import Part
from processors.held import Held
from processors.messages import Msg
from processors.state import ConsentState
from processors.store import Store
from processors.subject import Subject
from schemas.events import Geolocation, Navigation
from schemas.validator import decode


class DecideNow(Protocol):
    """Decides one event now (:meth:`processors.decisions.Decider.decide`)."""

    def __call__(self, partition: int, stream: str, event: Navigation | Geolocation,
                 state: ConsentState | None, overflow: bool = False,
                 ts: float | None = None) -> None: ...


class Grace:
    """Held events: hold, release, expire, recover; the deadline heap, by subject handle."""

    def __init__(self, rt: Runtime, store: Store, decide: DecideNow) -> None:
        self.rt = rt
        self.store = store
        self._decide = decide
        # One entry per user with held events: (oldest deadline, handle, partition).
        self._deadlines: list[tuple[float, bytes, int]] = []
        self._held = 0

    @property
    def held_count(self) -> int:
        """Events held now."""
        return self._held

    def reset(self) -> None:
        """Forget the deadline index (after a rebalance; rebuilt by :meth:`recover`)."""
        self._deadlines.clear()
        self._held = 0

    def recover(self) -> None:
        """Rebuild the deadline heap and the count from the held-events table."""
        for user, idx in self.store.holds.subjects():
            heapq.heappush(self._deadlines, (idx.head, user.handle, user.partition))
            self._held += idx.count

    def forget(self, user: Subject) -> None:
        """The user's held events are about to be erased: no longer counted."""
        idx = self.store.holds.index(user)
        self._held = max(0, self._held - (idx.count if idx is not None else 0))

    def due_partitions(self, now: float) -> set[int]:
        """Input partitions of the users whose oldest held event is due at ``now``."""
        if not self._deadlines or self._deadlines[0][0] > now:
            return set()
        due = {Subject(h, p) for deadline, h, p in self._deadlines if deadline <= now}
        found = (self.store.holds.index(subject) for subject in due)
        return {idx.partition for idx in found if idx is not None}

    def hold(self, user: Subject, m: Msg, now: float) -> None:
        """Hold one event: one small table write, whatever the user held before."""
        deadline = now + self.rt.bounds.grace_s
        seq = m.seq if isinstance(m, Part) else 0
        held = Held(m.topic, m.partition, m.offset, m.value or b"", deadline, seq)
        added = self.store.holds.add(user, held)
        if added == "already":  # decided again after a retry: held once
            return
        if added == "first":
            # One heap entry per user with held events: its oldest deadline.
            heapq.heappush(self._deadlines, (deadline, user.handle, user.partition))
        self._held += 1
        while self._held > self.rt.policy.grace_max_events and self._deadlines:
            # Memory bound: the oldest held events are decided now, as they stand.
            _, handle, partition = heapq.heappop(self._deadlines)
            self.release(Subject(handle, partition))

    def release(self, user: Subject, before: float | None = None) -> None:
        """Decide the user's held events (those due at ``before``; all when None)."""
        due = self.store.holds.take_due(user, before)
        if before is not None:
            rest = self.store.holds.index(user)
            if rest is not None:
                heapq.heappush(self._deadlines, (rest.head, user.handle, user.partition))
        if not due:
            return
        self._held = max(0, self._held - len(due))
        state = self.store.state(user)
        for h in due:
            event = decode(h.value)
            assert isinstance(event, Navigation | Geolocation)  # noqa: S101 - held when valid
            self._decide(h.partition, self.rt.names.stream_of(h.topic), event, state)

    def expire(self, now: float) -> None:
        """Decide the held events whose grace window ended at ``now``."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _, handle, partition = heapq.heappop(self._deadlines)
            self.release(Subject(handle, partition), before=now)
