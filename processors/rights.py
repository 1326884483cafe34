"""Consent and rights records applied to the user's state, in offset order.

A consent answer updates the state (:mod:`processors.consent`), emits one consent-ledger
record per purpose that changed, and releases the user's held events; a rights request is
audited, an objection recorded in the state, an erasure fenced and applied
(:mod:`processors.erasure`). A record whose state would not fit is dead-lettered, with
nothing written: the size check runs before any write.
"""

from __future__ import annotations

from typing import Any

from pipeline.policy.fields import LEDGER
from processors.consent import ConsentEffect, apply_consent, apply_objection
from processors.context import Runtime
from processors.decide import time_outcome
from processors.emission import Emission
from processors.envelopes import split
from processors.erasure import Erasures
from processors.exceptions import StateTooLarge
from processors.grace import Grace
from processors.messages import Msg
from processors.records import day_of
from processors.store import Store
from schemas.events import Consent, Rights
from schemas.records import Decision


class RightsApplier:
    """Applies consent and rights records of the consent topic."""

    def __init__(self, rt: Runtime, store: Store, emit: Emission, grace: Grace,
                 erasures: Erasures) -> None:
        self.rt = rt
        self.store = store
        self.emit = emit
        self.grace = grace
        self.erasures = erasures

    async def on_consent(self, m: Msg) -> None:
        """Apply one consent or rights record; one whose state would not fit is dead-lettered.

        The size check runs before any write, so a refused record changed nothing.
        """
        if m.value is None:
            # A Kafka tombstone (the worker's own after an erasure, or an operator's): it
            # deletes a key for compaction, it is no consent record. Skipped, not counted.
            self.emit.handled(m)
            return
        for part in split(m):  # each event of an envelope on its own
            try:
                await self._apply_record(part)
            except StateTooLarge as exc:
                self.emit.dead(part, "consent", str(exc), None)

    async def _apply_record(self, m: Msg) -> None:
        self.emit.handled(m)
        event = self.emit.decode(m, (Consent, Rights))
        if event is None:
            return
        assert isinstance(event, Consent | Rights)  # noqa: S101 - narrowed by _decode
        now = self.rt.clock()
        late = time_outcome(event.occurred_at.timestamp(), now, self.rt.bounds)
        if late is not None:
            self.emit.decision(m.partition, event.event_id, "consent", event, {"all": late})
            return
        if isinstance(event, Consent):
            self._apply_consent(m, event)
        else:
            await self._apply_rights(m, event)

    def _apply_consent(self, m: Msg, event: Consent) -> None:
        policy, user = self.rt.policy, self.emit.subject_of(event.user_id)
        # A new answer after an erasure starts from nothing; the erasure applies now.
        self.erasures.apply_pending(user)
        effect = apply_consent(self.store.state(user), event, policy)
        # History older than the lateness bound can never decide an event again.
        effect.state.prune(self.rt.clock() - self.rt.bounds.lateness_s)
        effect.state.verified.update(dict.fromkeys(effect.transitions, m.verified))
        self.store.put_state(user, effect.state)
        self._ledger_records(m, event, effect)
        outcomes: dict[str, str] = dict.fromkeys(effect.transitions, "applied")
        if effect.unknown_purposes:
            outcomes["unknown"] = "ignored_unknown_purpose"
        if effect.tcf_rejected:  # counted by reason: ignored_invalid_tcf_<reason>
            outcomes["tcf"] = f"ignored_invalid_tcf_{effect.tcf_rejected}"
        self.emit.decision(
            m.partition, event.event_id, "consent", event, outcomes or {"all": "applied"}
        )
        self.grace.release(user)

    def _ledger_records(self, m: Msg, event: Consent, effect: ConsentEffect) -> None:
        """One consent-ledger record per purpose whose state changed."""
        subject = self._ledger_subject(event)
        for purpose, transition in effect.transitions.items():
            record = Decision.consent(self.emit.ref(event), purpose, day_of(event.occurred_at),
                                      transition, subject, m.verified)
            self.emit.outbox.add(self.rt.names.decisions, m.partition, record)

    async def _apply_rights(self, m: Msg, event: Rights) -> None:
        user, ts = self.emit.subject_of(event.user_id), event.occurred_at.timestamp()
        if event.right == "erasure":
            await self.erasures.request(user, ts, m.partition)
            # Compaction then drops the user's consent and rights records from the consent
            # topic (raw id in key and value). Sent when the erasure is read: the raw id is
            # known only then, and every earlier consent record of the user is applied.
            self.emit.outbox.add_tombstone(
                self.rt.names.consent, user.partition, event.user_id.encode("utf-8")
            )
        elif event.right == "objection":
            state = apply_objection(self.store.state(user), event, self.rt.policy)
            self.store.put_state(user, state)
        record: dict[str, Any] = {
            "right": event.right,
            "event_id": self.emit.ref(event),  # ledger-keyed: never the raw request id
            "at": event.occurred_at.isoformat(),
            "purposes": list(event.purposes or ()),
            "outcome": "applied",
            "verified": m.verified,
        }
        self.store.append_audit(user, record)
        outcome = {"all": f"rights_{event.right}"}
        self.emit.decision(m.partition, event.event_id, "consent", event, outcome)

    def _ledger_subject(self, event: Consent | Rights) -> str:
        """The consent-ledger pseudonym of the event's user (never the raw id)."""
        return str(self.rt.ring.pseudonym(LEDGER, event.user_id, event.occurred_at))
