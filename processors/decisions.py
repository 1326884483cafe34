"""Deciding one navigation or geolocation event for every purpose of its stream.

The rules themselves are :mod:`processors.decide` (pure); this applies them to an event and
the user's state, builds the sanitized record of each purpose kept (or counted anonymously),
and emits the event's decision record. A purpose without a live key for the event's epoch is
``dropped_no_key``, whatever the consent: fail closed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from keys.exceptions import KeysError
from pipeline.policy import Purpose
from processors.context import Runtime
from processors.decide import decide
from processors.emission import Emission
from processors.records import Recall, Shared, day_of, sanitize, shared_of
from processors.state import ConsentState
from processors.subjectkeys import Bound, SubjectCipher
from schemas.events import Geolocation, Navigation

_ANONYMOUS_WHEN = frozenset(("dropped_no_consent", "dropped_withdrawn"))
"""Outcomes of audience measurement still counted anonymously (CNIL exemption)."""


class Decider:
    """Decides events now (the engine chose not to hold them, or released them)."""

    def __init__(self, rt: Runtime, emit: Emission, subject_keys: SubjectCipher) -> None:
        self.rt = rt
        self.emit = emit
        self.subject_keys = subject_keys
        self._keys_live: dict[tuple[str, str], bool] = {}
        self._recall = Recall(rt.ring)  # pseudonyms and epochs of the batch
        # Per stream, what the policy says of each purpose and its sanitized topic, once.
        anonymous = rt.policy.anonymous_counting
        self._plans: dict[str, tuple[tuple[Purpose, str, bool, bool, str], ...]] = {
            stream: tuple(
                (p, p.name, p.consent_required, anonymous and p.name == "audience_measurement",
                 rt.names.sanitized(p.name))
                for p in purposes
            )
            for stream, purposes in rt.purposes_by_stream.items()
        }

    def new_batch(self) -> None:
        """Forget which keys were live (and the pseudonyms and epochs computed with them):
        they may have been rotated or destroyed since."""
        self._keys_live.clear()
        self._recall.clear()

    def decide(
        self,
        partition: int,
        stream: str,
        event: Navigation | Geolocation,
        state: ConsentState | None,
        overflow: bool = False,
        ts: float | None = None,
    ) -> None:
        """Decide every purpose of one event; ``overflow``: it could not be held (cap);
        ``ts``: its ``occurred_at`` in epoch seconds, when the caller has it already."""
        bounds = self.rt.bounds
        ts = event.occurred_at.timestamp() if ts is None else ts
        day = _utc_day(int(ts // 86400))
        outcomes: dict[str, str] = {}
        emitted = _Emitted()
        for purpose, name, required, counts_anonymously, topic in self._plans[stream]:
            if not self._has_key(name, event.occurred_at, day):
                outcomes[name] = "dropped_no_key"  # fail closed, whatever the consent
                continue
            outcome: str = decide(state, name, required, ts, bounds)
            if overflow and outcome == "dropped_no_consent":
                outcome = "dropped_hold_overflow"  # not counted anonymously either: fail closed
            anonymous = counts_anonymously and outcome in _ANONYMOUS_WHEN
            if outcome == "kept" or anonymous:
                outcome = self._sanitized(partition, event, purpose, topic, outcome, anonymous,
                                          emitted)
            outcomes[name] = outcome
        self.emit.decision(partition, event.event_id, stream, event, outcomes, day)

    def _sanitized(self, partition: int, event: Navigation | Geolocation, purpose: Purpose,
                   topic: str, outcome: str, anonymous: bool, emitted: _Emitted) -> str:
        """Queue the purpose's sanitized record; the outcome (``dropped_no_key`` when no key)."""
        rt = self.rt
        emitted.shared = emitted.shared or shared_of(event, rt.policy)
        emitted.cipher = emitted.cipher or Bound(
            self.subject_keys, lambda: self.emit.subject_of(event.user_id)
        )
        try:
            record = sanitize(event, purpose, rt.policy, rt.ring, anonymous, emitted.shared,
                              emitted.cipher, self._recall)
        except KeysError:
            return "dropped_no_key"
        self.emit.outbox.add(topic, partition, record)
        return "kept_anonymous" if anonymous else outcome

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


@lru_cache(maxsize=1024)
def _utc_day(day: int) -> str:
    """``YYYY-MM-DD`` of a day number since the epoch (as :func:`records.day_of`)."""
    return day_of(datetime.fromtimestamp(day * 86400, UTC))


class _Emitted:
    """What the purposes of one event share: its coarse fields and the user's cipher."""

    __slots__ = ("cipher", "shared")

    def __init__(self) -> None:
        self.shared: Shared | None = None
        self.cipher: Bound | None = None
