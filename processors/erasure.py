"""Erasures: fenced on the events acknowledged before them, applied, then kept as tombstones.

An erasure waits (pending) until every event Kafka acknowledged before it was read is
decided and committed by the group, then forgets everything about the user
(:meth:`processors.store.Store.erase`) and shreds their subject keys. Its tombstone (the time
only) drops the user's late events that occurred before it, until no such event can be
accepted any more (:func:`tombstone_expires_at`).
"""

from __future__ import annotations

import heapq

from processors.context import Runtime
from processors.decide import Bounds
from processors.grace import Grace
from processors.messages import Msg
from processors.positions import Positions
from processors.store import Erasure, Store
from processors.subject import Subject
from processors.subjectkeys import SubjectCipher

TOMBSTONE_MARGIN_S = 3600.0
"""Kept past the lateness bound (plus the future bound) before an erasure tombstone expires:
room for clock skew between producers and workers."""


def tombstone_expires_at(ts: float, bounds: Bounds) -> float:
    """When the tombstone of an erasure at ``ts`` goes: every event it drops (one that occurred
    at or before ``ts``) is then refused as late anyway (the lateness bound), with the future
    bound and :data:`TOMBSTONE_MARGIN_S` for clock skew."""
    return ts + bounds.lateness_s + bounds.future_s + TOMBSTONE_MARGIN_S


class Erasures:
    """Pending erasures and tombstones, indexed in memory by subject (rebuilt on recovery)."""

    def __init__(self, rt: Runtime, store: Store, subject_keys: SubjectCipher,
                 positions: Positions, grace: Grace) -> None:
        self.rt = rt
        self.store = store
        self.subject_keys = subject_keys
        self.positions = positions
        self.grace = grace
        self._pending: dict[Subject, Erasure] = {}
        self._erased_users: set[bytes] = set()
        self._tombstones: list[tuple[float, bytes, int]] = []

    def reset(self) -> None:
        """Forget the indexes (after a rebalance; rebuilt by :meth:`recover`)."""
        self._pending.clear()
        self._erased_users.clear()
        self._tombstones.clear()

    def recover(self) -> None:
        """Rebuild the pending erasures and the tombstone heap from the erasure table."""
        for user, erasure in self.store.erasures():
            self._erased_users.add(user.handle)
            if erasure.targets:
                self._pending[user] = erasure
            else:
                heapq.heappush(
                    self._tombstones, (self._expiry(erasure.ts), user.handle, user.partition)
                )

    async def request(self, user: Subject, ts: float, partition: int) -> None:
        """Erase once every event Kafka acknowledged before the erasure has been decided."""
        names = self.rt.names
        targets: dict[str, int] = {}
        for topic in (names.navigation, names.geolocation):
            end = (await self.positions.fence.end_offsets(topic, [partition]))[partition]
            if await self.positions.done_upto(topic, partition) < end - 1:
                targets[topic] = end
        self._erased_users.add(user.handle)
        if targets:
            self.store.put_erasure(user, Erasure(ts, partition, targets))
            self._pending[user] = Erasure(ts, partition, targets)
        else:
            self.erase(user, ts)

    def apply_pending(self, user: Subject) -> None:
        """Apply the user's pending erasure now, if any (a new answer starts from nothing)."""
        if user in self._pending:
            self.erase(user, self._pending[user].ts)

    def erase(self, user: Subject, ts: float) -> None:
        """Forget everything about the user now; keep the tombstone."""
        self.grace.forget(user)
        self.store.erase(user, ts)
        # Crypto-shredding: every field token of the user, wherever a copy went, no longer opens.
        self.subject_keys.shred(user)
        self._pending.pop(user, None)
        heapq.heappush(self._tombstones, (self._expiry(ts), user.handle, user.partition))

    def _expiry(self, ts: float) -> float:
        return tombstone_expires_at(ts, self.rt.bounds)

    def expire_tombstones(self, now: float) -> None:
        """Delete the tombstones no event can reach any more (a changelog tombstone each)."""
        while self._tombstones and self._tombstones[0][0] <= now:
            _, handle, partition = heapq.heappop(self._tombstones)
            subject = Subject(handle, partition)
            found = self.store.erasure(subject)
            if found is None or found.targets or self._expiry(found.ts) > now:
                continue  # gone, pending again, or replaced by a later erasure (own entry)
            self.store.forget_tombstone(subject)
            self._erased_users.discard(handle)

    async def apply_due(self) -> None:
        """Apply the pending erasures whose fenced events are decided here and committed.

        Committed by the group, not only decided: the group decides uncommitted events again
        (after a rebalance, a retried batch, a restart), and after the erasure that would be
        from the consent it deleted, contradicting their first decision.
        """
        committed: dict[tuple[str, int], int] = {}
        for user, erasure in list(self._pending.items()):
            p, targets = erasure.partition, erasure.targets
            if not all(self.positions.known(t, p) >= end - 1 for t, end in targets.items()):
                continue
            for t in targets:
                if (t, p) not in committed:
                    committed[(t, p)] = await self.positions.fence.committed(t, p)
            if all(committed[(t, p)] >= end for t, end in targets.items()):
                self.erase(user, erasure.ts)

    def governing(self, m: Msg, user: Subject) -> Erasure | None:
        """The user's erasure if it governs this event: applied, or pending and before it."""
        erasure = self._pending.get(user)
        if erasure is not None:
            return erasure if m.offset >= erasure.targets.get(m.topic, 0) else None
        if user.handle not in self._erased_users:  # nearly always: no table lookup per event
            return None
        found = self.store.erasure(user)
        return found if found is not None and not found.targets else None
