"""The consent engine: one batch of input records in, privacy-safe records out.

The faust agent hands it batches from the three co-partitioned input topics; it applies
consent and rights first, fences events on the consent partition's end offset (consent that
Kafka acknowledged before an event was read is always applied before the event is decided),
fences erasures on the event partitions' end offsets (events acknowledged before an erasure
are decided before it), holds events of users without any consent record for the grace
window, and decides every (event, purpose). Records already handled through a fence are
skipped when the stream delivers them again.

:class:`Engine` is the façade over one module per job: :mod:`processors.positions` (handled
offsets, holes, catch-up), :mod:`processors.rights` (consent and rights),
:mod:`processors.erasure` (erasures and their tombstones), :mod:`processors.grace` (held
events), :mod:`processors.decisions` (an event for each purpose) and
:mod:`processors.emission` (decision records, dead letters).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from processors.context import Runtime
from processors.decide import Outcome, awaits_first_consent, time_outcome
from processors.decisions import Decider
from processors.emission import Emission
from processors.envelopes import split
from processors.erasure import TOMBSTONE_MARGIN_S, Erasures, tombstone_expires_at
from processors.exceptions import StateTooLarge
from processors.grace import Grace
from processors.messages import Msg
from processors.outbox import Outbox
from processors.positions import Fence, Positions
from processors.rights import RightsApplier
from processors.store import Store
from processors.subject import Subject
from processors.subjectkeys import SubjectCipher
from schemas.events import Geolocation, Navigation

log = logging.getLogger(__name__)


class Engine:
    """Applies consent semantics to batches of input records."""

    def __init__(self, rt: Runtime, store: Store, outbox: Outbox, fence: Fence,
                 subject_keys: SubjectCipher,
                 durable: Callable[[], Awaitable[None]] | None = None) -> None:
        self.rt = rt
        # Waits until the table writes made so far are acknowledged (the worker's changelogs).
        self.durable = durable
        # Encrypted fields and dead letters of a user go under their subject keys, which an
        # erasure deletes (crypto-shredding).
        self.subject_keys = subject_keys
        self.store = store
        self.outbox = outbox
        self.fence = fence
        self.positions = Positions(fence)
        self.emit = Emission(rt, outbox, self.subject_keys, self.positions)
        self.decider = Decider(rt, self.emit, self.subject_keys)
        self.grace = Grace(rt, store, self.decider.decide)
        self.erasures = Erasures(rt, store, self.subject_keys, self.positions, self.grace)
        self.rights = RightsApplier(rt, store, self.emit, self.grace, self.erasures)
        self._recovered = False
        # Whether any purpose of the stream needs consent (else nothing is ever held).
        self._needs_consent = {
            stream: any(p.consent_required for p in purposes)
            for stream, purposes in rt.purposes_by_stream.items()
        }

    @property
    def counts(self) -> Counter[tuple[str, str, str]]:
        """Outcomes so far by (stream, purpose, outcome) (the worker's metrics tally them)."""
        return self.emit.counts

    @property
    def held_count(self) -> int:
        """Events held in the grace window now (for the worker's metrics)."""
        return self.grace.held_count

    def reset(self) -> None:
        """Forget positions and the deadline index (after a rebalance)."""
        self.positions.reset()
        self.grace.reset()
        self._recovered = False
        self.erasures.reset()
        self.store.forget_cached()
        self.subject_keys.forget_cached()

    async def next_offset(self, topic: str, partition: int) -> int:
        """The first offset of a partition this engine has not handled yet."""
        return await self.positions.next_offset(topic, partition)

    def reject(self, m: Msg, reason: str) -> None:
        """Dead-letter an input whose outputs or state Kafka refused for good; move on."""
        try:
            self.emit.reject(m, reason)
        finally:  # sealing the original looked its user up by raw id: not kept past this
            self._forget_batch()

    async def process(self, batch: Sequence[Msg]) -> None:
        """Handle one batch: consent first, then fenced events; flush outputs."""
        self._recover()
        self._forget_batch()  # keys may have been rotated or destroyed since the last batch
        try:
            await self._process(batch)
        finally:  # the batch's raw user ids are not kept until the next batch
            self._forget_batch()

    async def _process(self, batch: Sequence[Msg]) -> None:
        names = self.rt.names
        consent = names.consent
        fresh = await self.positions.unhandled(batch)
        for m in fresh:
            if m.topic == consent:
                await self.rights.on_consent(m)
        events = [m for m in fresh if m.topic != consent]
        if events:
            await self._fence_consent({m.partition for m in events})
            now = self.rt.clock()
            for part in (p for m in events for p in split(m)):  # each event of an envelope
                try:
                    self._on_event(part, now)
                except StateTooLarge as exc:
                    self.emit.dead(part, names.stream_of(part.topic), str(exc), None)
        await self._tick()

    async def tick(self) -> None:
        """Decide held events whose grace window ended; send what is queued.

        Consent Kafka acknowledged before the window ended is applied first (the same fence
        as for new events): a worker restarted after the deadline must not default-deny an
        event whose user's answer is already in the consent topic.
        """
        try:
            await self._tick()
        finally:  # the held events' raw user ids are not kept until the next batch
            self._forget_batch()

    def _forget_batch(self) -> None:
        """Drop the per-batch caches: live keys, and the pseudonyms and subjects computed
        from raw user ids (kept for one batch or tick, never longer)."""
        self.decider.new_batch()
        self.emit.new_batch()

    async def _tick(self) -> None:
        self._recover()
        await self.erasures.apply_due()
        now = self.rt.clock()
        self.erasures.expire_tombstones(now)
        due = self.grace.due_partitions(now)
        if due:
            await self._fence_consent(due)
        self.grace.expire(now)
        self.store.commit()  # the state that decided the outputs is written before they leave
        if self.subject_keys.take_created() and self.durable is not None:
            # A new subject key reaches its changelog before any ciphertext under it leaves:
            # after a crash between the two, the event is decided again under the same key.
            await self.durable()
        await self.outbox.flush()

    async def _fence_consent(self, partitions: set[int]) -> None:
        for m in await self.positions.catch_up(self.rt.names.consent, partitions):
            await self.rights.on_consent(m)

    def _recover(self) -> None:
        if self._recovered:
            return
        self._recovered = True
        moved = self.store.adopt_raw_keys(self._subject_of)
        if moved:
            log.warning("moved %d table keys written before subject handles to handles", moved)
        self.grace.recover()
        self.erasures.recover()

    def _subject_of(self, user_id: str) -> Subject:
        """The user as the tables know them: keyed handle and partition, never the raw id."""
        return self.emit.subject_of(user_id)

    def _on_event(self, m: Msg, now: float) -> None:
        self.emit.handled(m)
        stream = self.rt.names.stream_of(m.topic)
        kind = Navigation if stream == "navigation" else Geolocation
        event = self.emit.decode(m, (kind,))
        if event is None:
            return
        assert isinstance(event, Navigation | Geolocation)  # noqa: S101 - narrowed by _decode
        self._route(m, stream, event, now)

    def _route(self, m: Msg, stream: str, event: Navigation | Geolocation, now: float) -> None:
        """Drop the event (late, future, erased), hold it, or decide it now."""
        purposes = self.rt.purposes_by_stream[stream]
        ts = event.occurred_at.timestamp()  # once per event: passed on to the decision
        late = time_outcome(ts, now, self.rt.bounds)
        user = self._subject_of(event.user_id)
        erasure = self.erasures.governing(m, user)
        if late is None and erasure is not None and ts <= erasure.ts:
            late = "dropped_erased"
        if late is not None:
            outcomes = dict.fromkeys((p.name for p in purposes), late)
            self.emit.decision(m.partition, event.event_id, stream, event, outcomes)
            return
        state = None if erasure is not None else self.store.state(user)
        if awaits_first_consent(state, ts, now, self.rt.bounds) and self._needs_consent[stream]:
            if self.store.holds.room_for(user, len(m.value or b"")):
                self.grace.hold(user, m, now)
            else:
                # Per-user cap reached: decided now, fail-closed, and counted as such.
                self.decider.decide(m.partition, stream, event, state, overflow=True, ts=ts)
            return
        self.decider.decide(m.partition, stream, event, state, ts=ts)


__all__ = ["TOMBSTONE_MARGIN_S", "Engine", "Fence", "Outcome", "tombstone_expires_at"]
