"""The consent engine: one batch of input records in, privacy-safe records out.

The faust agent hands it batches from the three co-partitioned input topics; it applies
consent and rights first, fences events on the consent partition's end offset (consent that
Kafka acknowledged before an event was read is always applied before the event is decided),
fences erasures on the event partitions' end offsets (events acknowledged before an erasure
are decided before it), holds events of users without any consent record for the grace
window, and decides every (event, purpose). Records already handled through a fence are
skipped when the stream delivers them again.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from keys.exceptions import KeysError
from pipeline.policy.fields import LEDGER
from processors.consent import apply_consent, apply_objection
from processors.context import Runtime
from processors.decide import Bounds, Outcome, awaits_first_consent, decide, time_outcome
from processors.envelopes import Part, decoded, located, split
from processors.exceptions import StateTooLarge
from processors.held import Held
from processors.messages import Msg
from processors.outbox import Outbox
from processors.records import Shared, day_of, sanitize, shared_of
from processors.refs import decision_ref
from processors.state import ConsentState
from processors.store import Erasure, Store
from processors.subject import Subject, subject_of
from processors.subjectkeys import Bound, SubjectCipher, SubjectKeys
from processors.table import MemoryTable
from schemas.events import Consent, Geolocation, Navigation, Rights
from schemas.exceptions import InvalidEvent
from schemas.validator import decode

log = logging.getLogger(__name__)

DEADLETTER_KEEP_BYTES = 64 * 1024
"""Most bytes of a rejected input kept (encrypted) in its dead letter: the event size limit."""

USER_ID_MAX_BYTES = 4 * 128
"""Longest Kafka key taken for a user id (128 characters of UTF-8, as the schemas allow)."""

TOMBSTONE_MARGIN_S = 3600.0
"""Kept past the lateness bound (plus the future bound) before an erasure tombstone expires:
room for clock skew between producers and workers."""


def tombstone_expires_at(ts: float, bounds: Bounds) -> float:
    """When the tombstone of an erasure at ``ts`` goes: every event it drops (one that occurred
    at or before ``ts``) is then refused as late anyway (the lateness bound), with the future
    bound and :data:`TOMBSTONE_MARGIN_S` for clock skew."""
    return ts + bounds.lateness_s + bounds.future_s + TOMBSTONE_MARGIN_S


class Fence(Protocol):
    """Kafka positions and side reads the engine needs (see :mod:`processors.fence`)."""

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]: ...

    async def committed(self, topic: str, partition: int) -> int: ...

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Msg]: ...

    async def read_ranges(
        self, topic: str, ranges: dict[int, tuple[int, int]]
    ) -> list[Msg]: ...


class Engine:
    """Applies consent semantics to batches of input records."""

    def __init__(self, rt: Runtime, store: Store, outbox: Outbox, fence: Fence,
                 subject_keys: SubjectCipher | None = None,
                 durable: Callable[[], Awaitable[None]] | None = None) -> None:
        self.rt = rt
        # Waits until the table writes made so far are acknowledged (the worker's changelogs).
        self.durable = durable
        # Encrypted fields and dead letters of a user go under their subject keys, which an
        # erasure deletes (crypto-shredding). Unit tests: in memory.
        self.subject_keys = subject_keys or SubjectKeys(rt.ring, MemoryTable())
        self.store = store
        self.outbox = outbox
        self.fence = fence
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self._done: dict[tuple[str, int], int] = {}
        # In-memory indexes, by subject handle (rebuilt from the tables on recovery).
        self._deadlines: list[tuple[float, bytes, int]] = []
        self._held = 0
        self._recovered = False
        self._pending_erasures: dict[Subject, Erasure] = {}
        self._erased_users: set[bytes] = set()
        self._tombstones: list[tuple[float, bytes, int]] = []
        self._keys_live: dict[tuple[str, str], bool] = {}

    def reset(self) -> None:
        """Forget positions and the deadline index (after a rebalance)."""
        self._done.clear()
        self._deadlines.clear()
        self._held = 0
        self._recovered = False
        self._pending_erasures.clear()
        self._erased_users.clear()
        self._tombstones.clear()
        self.store.forget_cached()
        self.subject_keys.forget_cached()

    async def process(self, batch: Sequence[Msg]) -> None:
        """Handle one batch: consent first, then fenced events; flush outputs."""
        self._recover()
        self._keys_live.clear()  # keys may have been rotated or destroyed since the last batch
        names = self.rt.names
        fresh = await self._unhandled(batch)
        for m in fresh:
            if m.topic == names.consent:
                await self._on_consent(m)
        events = [m for m in fresh if m.topic != names.consent]
        if events:
            await self._fence_consent({m.partition for m in events})
            now = self.rt.clock()
            for part in (p for m in events for p in split(m)):  # each event of an envelope
                try:
                    self._on_event(part, now)
                except StateTooLarge as exc:
                    self._dead(part, names.stream_of(part.topic), str(exc), None)
        await self.tick()

    async def tick(self) -> None:
        """Decide held events whose grace window ended; send what is queued.

        Consent Kafka acknowledged before the window ended is applied first (the same fence
        as for new events): a worker restarted after the deadline must not default-deny an
        event whose user's answer is already in the consent topic.
        """
        self._recover()
        self._apply_due_erasures()
        now = self.rt.clock()
        self._expire_tombstones(now)
        due = self._due_partitions(now)
        if due:
            await self._fence_consent(due)
        self._expire_held(now)
        if self.subject_keys.take_created() and self.durable is not None:
            # A new subject key reaches its changelog before any ciphertext under it leaves:
            # after a crash between the two, the event is decided again under the same key.
            await self.durable()
        await self.outbox.flush()

    def _due_partitions(self, now: float) -> set[int]:
        if not self._deadlines or self._deadlines[0][0] > now:
            return set()
        due = {Subject(h, p) for deadline, h, p in self._deadlines if deadline <= now}
        found = (self.store.holds.index(subject) for subject in due)
        return {idx.partition for idx in found if idx is not None}

    # -- positions and fences -------------------------------------------------------------

    async def _unhandled(self, batch: Sequence[Msg]) -> list[Msg]:
        """The batch's records not handled yet, plus any the stream skipped, in offset order.

        Records at or below a partition's handled position were decided already (by this
        worker or, below the committed offset, by the group) and are dropped. A hole between
        the handled position and the records delivered is read directly: faust can drop
        records fetched across a rebalance and still commit past them (it takes the hole for
        a compacted range), so the stream alone does not guarantee every record is seen.
        """
        runs: dict[tuple[str, int], dict[int, Msg]] = {}
        for m in batch:
            runs.setdefault((m.topic, m.partition), {})[m.offset] = m
        out: list[Msg] = []
        for (topic, partition), by_offset in runs.items():
            done = await self._done_upto(topic, partition)
            run = [by_offset[o] for o in sorted(by_offset) if o > done]
            if not run:
                continue
            last = run[-1].offset
            if last - done != len(run):
                skipped = last - done - len(run)
                log.warning("input %s[%d]: reading %d skipped records", topic, partition, skipped)
                run = await self.fence.read(topic, partition, done + 1, last + 1)
            out.extend(run)
        return out

    def _handled(self, m: Msg) -> None:
        # Marked once decided, not when read: an erasure fences on the events decided so far.
        self._done[(m.topic, m.partition)] = m.offset

    async def _done_upto(self, topic: str, partition: int) -> int:
        key = (topic, partition)
        if key not in self._done:
            self._done[key] = await self.fence.committed(topic, partition) - 1
        return self._done[key]

    @property
    def held_count(self) -> int:
        """Events held in the grace window now (for the worker's metrics)."""
        return self._held

    async def next_offset(self, topic: str, partition: int) -> int:
        """The first offset of a partition this engine has not handled yet."""
        return await self._done_upto(topic, partition) + 1

    async def _catch_up(self, topic: str, partitions: Iterable[int]) -> list[Msg]:
        """Records of ``topic`` not yet delivered, read directly up to the end; marked handled."""
        ends = await self.fence.end_offsets(topic, partitions)
        ranges: dict[int, tuple[int, int]] = {}
        for partition, end in sorted(ends.items()):
            done = await self._done_upto(topic, partition)
            if done < end - 1:
                ranges[partition] = (done + 1, end)
        missing = await self.fence.read_ranges(topic, ranges) if ranges else []
        for partition, (_, end) in ranges.items():
            self._done[(topic, partition)] = end - 1
        return missing

    async def _fence_consent(self, partitions: set[int]) -> None:
        for m in await self._catch_up(self.rt.names.consent, partitions):
            await self._on_consent(m)

    # -- consent and rights ---------------------------------------------------------------

    async def _on_consent(self, m: Msg) -> None:
        """Apply one consent or rights record; one whose state would not fit is dead-lettered.

        The size check runs before any write, so a refused record changed nothing.
        """
        if m.value is None:
            # A Kafka tombstone (the worker's own after an erasure, or an operator's): it
            # deletes a key for compaction, it is no consent record. Skipped, not counted.
            self._handled(m)
            return
        for part in split(m):  # each event of an envelope on its own
            try:
                await self._apply_record(part)
            except StateTooLarge as exc:
                self._dead(part, "consent", str(exc), None)

    async def _apply_record(self, m: Msg) -> None:
        self._handled(m)
        event = self._decode(m, (Consent, Rights))
        if event is None:
            return
        assert isinstance(event, Consent | Rights)  # noqa: S101 - narrowed by _decode
        now = self.rt.clock()
        late = time_outcome(event.occurred_at.timestamp(), now, self.rt.bounds)
        if late is not None:
            self._decision(m.partition, event.event_id, "consent", event, {"all": late})
            return
        if isinstance(event, Consent):
            self._apply_consent(m, event)
        else:
            await self._apply_rights(m, event)

    def _apply_consent(self, m: Msg, event: Consent) -> None:
        policy, user = self.rt.policy, self._subject_of(event.user_id)
        if user in self._pending_erasures:
            # A new answer after an erasure starts from nothing; the erasure applies now.
            self._erase(user, self._pending_erasures[user].ts)
        effect = apply_consent(self.store.state(user), event, policy)
        # History older than the lateness bound can never decide an event again.
        effect.state.prune(self.rt.clock() - self.rt.bounds.lateness_s)
        effect.state.verified.update(dict.fromkeys(effect.transitions, m.verified))
        self.store.put_state(user, effect.state)
        subject = self._ledger_subject(event)
        for purpose, transition in effect.transitions.items():
            self.outbox.add(
                self.rt.names.decisions,
                m.partition,
                {
                    "kind": "consent",
                    "event_id": self._ref(event),
                    "purpose": purpose,
                    "day": day_of(event.occurred_at),
                    "transition": transition,
                    "subject": subject,
                    "verified": m.verified,
                },
            )
        outcomes: dict[str, str] = dict.fromkeys(effect.transitions, "applied")
        if effect.unknown_purposes:
            outcomes["unknown"] = "ignored_unknown_purpose"
        if effect.tcf_rejected:  # counted by reason: ignored_invalid_tcf_<reason>
            outcomes["tcf"] = f"ignored_invalid_tcf_{effect.tcf_rejected}"
        self._decision(
            m.partition, event.event_id, "consent", event, outcomes or {"all": "applied"}
        )
        self._release(user)

    async def _apply_rights(self, m: Msg, event: Rights) -> None:
        user, ts = self._subject_of(event.user_id), event.occurred_at.timestamp()
        if event.right == "erasure":
            await self._request_erasure(user, ts, m.partition)
            # Compaction then drops the user's consent and rights records from the consent
            # topic (raw id in key and value). Sent when the erasure is read: the raw id is
            # known only then, and every earlier consent record of the user is applied.
            self.outbox.add_tombstone(
                self.rt.names.consent, user.partition, event.user_id.encode("utf-8")
            )
        elif event.right == "objection":
            state = apply_objection(self.store.state(user), event, self.rt.policy)
            self.store.put_state(user, state)
        record = {
            "right": event.right,
            "event_id": self._ref(event),  # ledger-keyed: never the raw request id
            "at": event.occurred_at.isoformat(),
            "purposes": list(event.purposes or ()),
            "outcome": "applied",
            "verified": m.verified,
        }
        self.store.append_audit(user, record)
        outcome = {"all": f"rights_{event.right}"}
        self._decision(m.partition, event.event_id, "consent", event, outcome)

    async def _request_erasure(self, user: Subject, ts: float, partition: int) -> None:
        """Erase once every event Kafka acknowledged before the erasure has been decided."""
        names = self.rt.names
        targets: dict[str, int] = {}
        for topic in (names.navigation, names.geolocation):
            end = (await self.fence.end_offsets(topic, [partition]))[partition]
            if await self._done_upto(topic, partition) < end - 1:
                targets[topic] = end
        self._erased_users.add(user.handle)
        if targets:
            self.store.put_erasure(user, Erasure(ts, partition, targets))
            self._pending_erasures[user] = Erasure(ts, partition, targets)
        else:
            self._erase(user, ts)

    def _erase(self, user: Subject, ts: float) -> None:
        idx = self.store.holds.index(user)
        self._held = max(0, self._held - (idx.count if idx is not None else 0))
        self.store.erase(user, ts)
        # Crypto-shredding: every field token of the user, wherever a copy went, no longer opens.
        self.subject_keys.shred(user)
        self._pending_erasures.pop(user, None)
        heapq.heappush(self._tombstones, (self._expiry(ts), user.handle, user.partition))

    def _expiry(self, ts: float) -> float:
        return tombstone_expires_at(ts, self.rt.bounds)

    def _expire_tombstones(self, now: float) -> None:
        """Delete the tombstones no event can reach any more (a changelog tombstone each)."""
        while self._tombstones and self._tombstones[0][0] <= now:
            _, handle, partition = heapq.heappop(self._tombstones)
            subject = Subject(handle, partition)
            found = self.store.erasure(subject)
            if found is None or found.targets or self._expiry(found.ts) > now:
                continue  # gone, pending again, or replaced by a later erasure (own entry)
            self.store.forget_tombstone(subject)
            self._erased_users.discard(handle)

    def _apply_due_erasures(self) -> None:
        for user, erasure in list(self._pending_erasures.items()):
            p = erasure.partition
            if all(self._done.get((t, p), -1) >= end - 1 for t, end in erasure.targets.items()):
                self._erase(user, erasure.ts)

    def _after_erasure(self, m: Msg, user: Subject) -> Erasure | None:
        """The user's erasure if it governs this event: applied, or pending and before it."""
        erasure = self._pending_erasures.get(user)
        if erasure is not None:
            return erasure if m.offset >= erasure.targets.get(m.topic, 0) else None
        if user.handle not in self._erased_users:  # nearly always: no table lookup per event
            return None
        found = self.store.erasure(user)
        return found if found is not None and not found.targets else None

    def _ref(self, event: Any) -> str | None:
        """The decision record's event id: ledger-keyed, never the raw id (processors.refs)."""
        now = datetime.fromtimestamp(self.rt.clock(), UTC)
        return decision_ref(self.rt.ring, event.event_id, event.occurred_at, now)

    def _subject_of(self, user_id: str) -> Subject:
        """The user as the tables know them: keyed handle and partition, never the raw id."""
        return subject_of(self.rt.ring, user_id, self.rt.partitions)

    def _ledger_subject(self, event: Consent | Rights) -> str:
        """The consent-ledger pseudonym of the event's user (never the raw id)."""
        return str(self.rt.ring.pseudonym(LEDGER, event.user_id, event.occurred_at))

    # -- navigation and geolocation -------------------------------------------------------

    def _on_event(self, m: Msg, now: float) -> None:
        self._handled(m)
        stream = self.rt.names.stream_of(m.topic)
        kind = Navigation if stream == "navigation" else Geolocation
        event = self._decode(m, (kind,))
        if event is None:
            return
        assert isinstance(event, Navigation | Geolocation)  # noqa: S101 - narrowed by _decode
        purposes = self.rt.purposes_by_stream[stream]
        ts = event.occurred_at.timestamp()
        late = time_outcome(ts, now, self.rt.bounds)
        user = self._subject_of(event.user_id)
        erasure = self._after_erasure(m, user)
        if late is None and erasure is not None and ts <= erasure.ts:
            late = "dropped_erased"
        if late is not None:
            self._decision(
                m.partition,
                event.event_id,
                stream,
                event,
                dict.fromkeys((p.name for p in purposes), late),
            )
            return
        state = None if erasure is not None else self.store.state(user)
        if awaits_first_consent(state, ts, now, self.rt.bounds) and any(
            p.consent_required for p in purposes
        ):
            if self.store.holds.room_for(user, len(m.value or b"")):
                self._hold(user, m, now)
            else:
                # Per-user cap reached: decided now, fail-closed, and counted as such.
                self._decide(m.partition, stream, event, state, overflow=True)
            return
        self._decide(m.partition, stream, event, state)

    def _decide(
        self,
        partition: int,
        stream: str,
        event: Navigation | Geolocation,
        state: ConsentState | None,
        overflow: bool = False,
    ) -> None:
        """Decide every purpose of one event; ``overflow``: it could not be held (cap)."""
        rt, ts = self.rt, event.occurred_at.timestamp()
        day = day_of(event.occurred_at)
        outcomes: dict[str, str] = {}
        shared: Shared | None = None
        cipher: Bound | None = None
        for purpose in rt.purposes_by_stream[stream]:
            outcome: str
            if not self._has_key(purpose.name, event.occurred_at, day):
                outcome = "dropped_no_key"  # fail closed, whatever the consent
                outcomes[purpose.name] = outcome
                continue
            outcome = decide(state, purpose.name, purpose.consent_required, ts, rt.bounds)
            if overflow and outcome == "dropped_no_consent":
                outcome = "dropped_hold_overflow"  # not counted anonymously either: fail closed
            anonymous = (
                outcome in ("dropped_no_consent", "dropped_withdrawn")
                and rt.policy.anonymous_counting
                and purpose.name == "audience_measurement"
            )
            if outcome == "kept" or anonymous:
                shared = shared or shared_of(event, rt.policy)
                cipher = cipher or Bound(self.subject_keys,
                                         lambda: self._subject_of(event.user_id))
                try:
                    record = sanitize(event, purpose, rt.policy, rt.ring, anonymous, shared,
                                      cipher)
                except KeysError:
                    outcome, record = "dropped_no_key", None
                if record is not None:
                    self.outbox.add(rt.names.sanitized(purpose.name), partition, record)
                    outcome = "kept_anonymous" if anonymous else outcome
            outcomes[purpose.name] = outcome
        self._decision(partition, event.event_id, stream, event, outcomes, day)

    def _has_key(self, purpose: str, at: datetime, day: str) -> bool:
        """Whether the purpose has a live key for ``at``'s epoch (cached per batch).

        Cached by UTC day: epochs (month, ISO week, day) are whole UTC days.
        """
        slot = (purpose, day)
        known = self._keys_live.get(slot)
        if known is None:
            try:
                self.rt.ring.pseudonym(purpose, "key-probe", at)
                known = True
            except KeysError:
                known = False
            self._keys_live[slot] = known
        return known

    # -- grace window ---------------------------------------------------------------------

    def _hold(self, user: Subject, m: Msg, now: float) -> None:
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
            self._release(Subject(handle, partition))

    def _release(self, user: Subject, before: float | None = None) -> None:
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

    def _expire_held(self, now: float) -> None:
        while self._deadlines and self._deadlines[0][0] <= now:
            _, handle, partition = heapq.heappop(self._deadlines)
            self._release(Subject(handle, partition), before=now)

    def _recover(self) -> None:
        if self._recovered:
            return
        self._recovered = True
        moved = self.store.adopt_raw_keys(self._subject_of)
        if moved:
            log.warning("moved %d table keys written before subject handles to handles", moved)
        for user, idx in self.store.holds.subjects():
            heapq.heappush(self._deadlines, (idx.head, user.handle, user.partition))
            self._held += idx.count
        for user, erasure in self.store.erasures():
            self._erased_users.add(user.handle)
            if erasure.targets:
                self._pending_erasures[user] = erasure
            else:
                heapq.heappush(
                    self._tombstones, (self._expiry(erasure.ts), user.handle, user.partition)
                )

    # -- outputs --------------------------------------------------------------------------

    def reject(self, m: Msg, reason: str) -> None:
        """Dead-letter an input whose outputs or state Kafka refused for good; move on.

        Its queued outputs are dropped (only its own are queued: the records before it were
        flushed), it counts as handled, and its dead letter says why.
        """
        self.outbox.discard()
        self._handled(m)
        for part in split(m):  # an envelope's events are dead-lettered one by one
            self._dead(part, self.rt.names.stream_of(m.topic), reason, None)

    def _decode(self, m: Msg, kinds: tuple[type, ...]) -> Any:
        stream = self.rt.names.stream_of(m.topic)
        try:
            event = decoded(m)
        except InvalidEvent as exc:
            self._dead(m, stream, exc.reason, exc.field)
            return None
        if not isinstance(event, kinds):
            self._dead(m, stream, f"schema {event.schema} does not belong on {m.topic}", "schema")
            return None
        return event

    def _dead(self, m: Msg, stream: str, reason: str, field: str | None) -> None:
        now = self.rt.clock()
        reason = located(reason, m)  # "envelope event 3: ..." inside an envelope

        at = datetime.fromtimestamp(now, UTC)
        record: dict[str, Any] = {
            "topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "reason": reason,
            "field": field,
            "at": at.isoformat(),
        }
        original = m.value or b""
        # Bounded, so a dead letter always fits in one Kafka message whatever came in.
        record["original_bytes"] = len(original)
        record["original_truncated"] = len(original) > DEADLETTER_KEEP_BYTES
        record["original"] = self._seal_original(m, original[:DEADLETTER_KEEP_BYTES], at)
        self.outbox.add_single(self.rt.names.deadletter, m.partition, record)
        self.outbox.add(
            self.rt.names.decisions,
            m.partition,
            {
                "kind": "invalid",
                "source": m.source,
                "stream": stream,
                "day": day_of(at),
                "reason": reason,
            },
        )
        self.counts[(stream, "all", "invalid")] += 1

    def _seal_original(self, m: Msg, kept: bytes, at: datetime) -> str | None:
        """A dead letter's bytes, which may hold identifiers: only the DPO's ledger key opens
        them, through the user's subject key when the record names its user (its Kafka key,
        the raw user id on input topics), so the user's erasure shreds it too."""
        try:
            # A key longer than any valid user id (schemas: 128) is not one: no subject key.
            user = m.key.decode("utf-8") if m.key and len(m.key) <= USER_ID_MAX_BYTES else None
        except UnicodeDecodeError:
            user = None  # not a user id: under the ledger key itself
        try:
            if user:
                subject = self._subject_of(user)
                return self.subject_keys.encrypt(subject, LEDGER, "deadletter", kept, at)
            return str(self.rt.ring.encrypt(LEDGER, "deadletter", kept, at))
        except KeysError:
            return None

    def _decision(
        self,
        partition: int,
        event_id: str,
        stream: str,
        event: Any,
        outcomes: dict[str, Any],
        day: str | None = None,
    ) -> None:
        for purpose, outcome in outcomes.items():
            self.counts[(stream, purpose, str(outcome))] += 1
        self.outbox.add(
            self.rt.names.decisions,
            partition,
            {
                "kind": "event",
                "event_id": self._ref(event),
                "stream": stream,
                "day": day or day_of(event.occurred_at),
                "outcomes": outcomes,
            },
        )


__all__ = ["TOMBSTONE_MARGIN_S", "Engine", "Fence", "Outcome", "tombstone_expires_at"]
