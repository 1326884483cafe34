"""What the engine emits besides sanitized records: decision records, dead letters (with
their sealed original bytes), and the counts of every outcome. The records are the typed
ones of :mod:`schemas.records` (what the sink decodes).

Every decision names the event by its ledger-keyed reference (:mod:`processors.refs`), never
the raw id; a dead letter keeps at most :data:`DEADLETTER_KEEP_BYTES` of the input, encrypted
under the user's subject key (or the ledger key when the record names no user).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from keys.exceptions import KeysError
from pipeline.partitioner import KeyHashes
from pipeline.policy.fields import LEDGER
from processors.context import Runtime
from processors.envelopes import decoded, located, split
from processors.messages import Msg
from processors.outbox import Outbox
from processors.positions import Positions
from processors.records import day_of
from processors.refs import decision_ref
from processors.subject import Subject, subject_of
from processors.subjectkeys import SubjectCipher
from schemas.exceptions import InvalidEvent
from schemas.records import DeadLetter, Decision

DEADLETTER_KEEP_BYTES = 64 * 1024
"""Most bytes of a rejected input kept (encrypted) in its dead letter: the event size limit."""

USER_ID_MAX_BYTES = 4 * 128
"""Longest Kafka key taken for a user id (128 characters of UTF-8, as the schemas allow)."""


class Emission:
    """Decision records, dead letters and outcome counts, queued on the outbox."""

    def __init__(self, rt: Runtime, outbox: Outbox, subject_keys: SubjectCipher,
                 positions: Positions) -> None:
        self.rt = rt
        self.outbox = outbox
        self.subject_keys = subject_keys
        self.positions = positions
        self._counts: Counter[tuple[str, str, str]] = Counter()
        # Decisions of the batch by (stream, outcomes): one increment per event, folded into
        # the counts by purpose when they are read (once per batch in the worker).
        self._tally: Counter[tuple[str, tuple[tuple[str, Any], ...]]] = Counter()
        self._subjects: dict[str, Subject] = {}
        self._hashes = KeyHashes()  # partitions of users seen again, without their raw ids
        self._now: tuple[float, datetime] | None = None

    @property
    def counts(self) -> Counter[tuple[str, str, str]]:
        """Outcomes so far by (stream, purpose, outcome)."""
        if self._tally:
            counts = self._counts
            for (stream, outcomes), n in self._tally.items():
                for purpose, outcome in outcomes:
                    counts[(stream, purpose, str(outcome))] += n
            self._tally.clear()
        return self._counts

    def new_batch(self) -> None:
        """Forget the subjects seen, keyed by raw user id: at the start and the end of every
        batch and tick, so no raw id outlives the batch that read it (bounded memory too)."""
        self._subjects.clear()

    def handled(self, m: Msg) -> None:
        self.positions.handled(m)

    def ref(self, event: Any) -> str | None:
        """The decision record's event id: ledger-keyed, never the raw id (processors.refs)."""
        clock = self.rt.clock()
        if self._now is None or self._now[0] != clock:
            self._now = (clock, datetime.fromtimestamp(clock, UTC))
        return decision_ref(self.rt.ring, event.event_id, event.occurred_at, self._now[1])

    def subject_of(self, user_id: str) -> Subject:
        """The user as the tables know them: keyed handle and partition, never the raw id
        (one keyed hash per user and batch)."""
        subject = self._subjects.get(user_id)
        if subject is None:
            subject = subject_of(self.rt.ring, user_id, self.rt.partitions, self._hashes)
            self._subjects[user_id] = subject
        return subject

    def reject(self, m: Msg, reason: str) -> None:
        """Dead-letter an input whose outputs or state Kafka refused for good; move on.

        Its queued outputs are dropped (only its own are queued: the records before it were
        flushed), it counts as handled, and its dead letter says why.
        """
        self.outbox.discard()
        self.handled(m)
        for part in split(m):  # an envelope's events are dead-lettered one by one
            self.dead(part, self.rt.names.stream_of(m.topic), reason, None)

    def decode(self, m: Msg, kinds: tuple[type, ...]) -> Any:
        stream = self.rt.names.stream_of(m.topic)
        try:
            event = decoded(m)
        except InvalidEvent as exc:
            self.dead(m, stream, exc.reason, exc.field)
            return None
        if not isinstance(event, kinds):
            self.dead(m, stream, f"schema {event.schema} does not belong on {m.topic}", "schema")
            return None
        return event

    def dead(self, m: Msg, stream: str, reason: str, field: str | None) -> None:
        now = self.rt.clock()
        reason = located(reason, m)  # "envelope event 3: ..." inside an envelope

        at = datetime.fromtimestamp(now, UTC)
        original = m.value or b""
        # Bounded, so a dead letter always fits in one Kafka message whatever came in.
        letter = DeadLetter(
            topic=m.topic,
            partition=m.partition,
            offset=m.offset,
            reason=reason,
            field=field,
            at=at.isoformat(),
            original_bytes=len(original),
            original_truncated=len(original) > DEADLETTER_KEEP_BYTES,
            original=self._seal_original(m, original[:DEADLETTER_KEEP_BYTES], at),
        )
        self.outbox.add_single(self.rt.names.deadletter, m.partition, letter)
        self.outbox.add(self.rt.names.decisions, m.partition,
                        Decision.invalid(m.source, stream, day_of(at), reason))
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
                subject = self.subject_of(user)
                return self.subject_keys.encrypt(subject, LEDGER, "deadletter", kept, at)
            return str(self.rt.ring.encrypt(LEDGER, "deadletter", kept, at))
        except KeysError:
            return None

    def decision(
        self,
        partition: int,
        event_id: str,
        stream: str,
        event: Any,
        outcomes: dict[str, Any],
        day: str | None = None,
    ) -> None:
        self._tally[(stream, tuple(outcomes.items()))] += 1
        record = Decision.event(self.ref(event), stream, day or day_of(event.occurred_at),
                                outcomes)
        self.outbox.add(self.rt.names.decisions, partition, record)
