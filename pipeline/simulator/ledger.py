"""The oracle's consent book: each user's consent state after every record, by occurred_at.

A deliberately simple, independent reading of the consent semantics (the lead's decision,
DESIGN.md section 6): records are sorted by their own ``occurred_at`` and applied in that order
(last writer wins); a snapshot of the whole state is kept after each one, so "the state as of
t" is a binary search. A consent/1 applies its TC string, then its explicit purposes, then
``gpc``; an objection records when each objectable purpose became objected; an erasure resets
everything.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pipeline.policy import Policy
from pipeline.simulator import tcfstring
from pipeline.simulator.exceptions import SimulatorError


@dataclass(frozen=True)
class State:
    """A user's consent state at one instant (since their last erasure)."""

    consent: Mapping[str, bool] = field(default_factory=dict)
    ever_granted: frozenset[str] = frozenset()
    records: int = 0
    """consent/1 records applied since the last erasure (0: the grace window may apply)."""
    objected: frozenset[str] = frozenset()


EMPTY = State()


@dataclass(frozen=True)
class Record:
    """A consent/1 or rights/1 event of one user, as the oracle reads it."""

    at: datetime
    index: int
    event: Mapping[str, Any]


@dataclass(frozen=True)
class Transition:
    """A consent-ledger transition (``granted``, ``denied`` or ``withdrawn``)."""

    at: datetime
    user: str
    purpose: str
    kind: str


def _tcf_changes(tc: str, policy: Policy) -> dict[str, bool] | None:
    """Purposes a TC string decides, or None when it is unreadable or too old (ignored)."""
    try:
        if tcfstring.policy_version(tc) < policy.tcf_min_policy_version:
            return None
        consented = tcfstring.purpose_consents(tc)
        features = tcfstring.special_features(tc)
    except (SimulatorError, ValueError):
        return None
    changes = {p: needed <= consented for p, needed in policy.tcf_requirements.items() if needed}
    # A special feature opted out denies the purposes it gates; opted in, it grants nothing.
    changes.update({p: False for p, f in policy.tcf_special_features.items() if not f <= features})
    return changes


def changes_of(event: Mapping[str, Any], policy: Policy) -> tuple[dict[str, bool], int]:
    """What one consent/1 sets, in semantic order: TC string, explicit purposes, GPC.

    Purposes that need no consent (fraud prevention) are not switched by consent answers;
    an unreadable or outdated TC string is ignored (the explicit purposes still apply).

    Returns:
        ``({purpose: granted}, number of unknown purpose names ignored)``.
    """
    changes: dict[str, bool] = {}
    tc = event.get("tcf")
    if isinstance(tc, str):
        changes.update(_tcf_changes(tc, policy) or {})
    unknown = 0
    for purpose, granted in event["purposes"].items():
        if purpose in policy.purposes:
            changes[purpose] = bool(granted)
        else:
            unknown += 1
    if event.get("gpc") is True:
        changes.update({p.name: False for p in policy.purposes.values() if p.gpc_denies})
    consent_based = {p.name for p in policy.purposes.values() if p.consent_required}
    return {p: g for p, g in changes.items() if p in consent_based}, unknown


def _transition(prev: State, purpose: str, granted: bool) -> str | None:
    before = prev.consent.get(purpose)
    if granted:
        return None if before is True else "granted"
    if before is True:
        return "withdrawn"
    if before is None and purpose not in prev.ever_granted:
        return "denied"
    return None


def _objectable(event: Mapping[str, Any], policy: Policy) -> frozenset[str]:
    named = event.get("purposes")
    objectable = {p.name for p in policy.purposes.values() if p.objectable}
    return frozenset(objectable & set(named) if named else objectable)  # [] or absent: all


@dataclass
class Book:
    """One user's snapshots, sorted by time, and the transitions their records produced."""

    user: str
    times: list[datetime] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    unknown_purposes: int = 0

    def _consent(self, prev: State, rec: Record, policy: Policy) -> State:
        changes, unknown = changes_of(rec.event, policy)
        self.unknown_purposes += unknown
        for purpose, granted in changes.items():
            kind = _transition(prev, purpose, granted)
            if kind is not None:
                self.transitions.append(Transition(rec.at, self.user, purpose, kind))
        granted_now = {p for p, ok in changes.items() if ok}
        return State(
            consent={**prev.consent, **changes},
            ever_granted=prev.ever_granted | granted_now,
            records=prev.records + 1,
            objected=prev.objected,
        )

    def apply(self, rec: Record, policy: Policy) -> None:
        """Append the state after ``rec`` (records must come sorted by time)."""
        prev = self.states[-1] if self.states else EMPTY
        schema, right = rec.event["schema"], rec.event.get("right")
        if schema == "consent/1":
            state, kind = self._consent(prev, rec, policy), "consent"
        elif right == "erasure":
            state, kind = EMPTY, "erasure"
        elif right == "objection":
            state = replace(prev, objected=prev.objected | _objectable(rec.event, policy))
            kind = "objection"
        else:
            state, kind = prev, "audit"  # access, portability, rectification
        self.times.append(rec.at)
        self.states.append(state)
        self.kinds.append(kind)

    def as_of(self, at: datetime) -> tuple[State, int]:
        """State at ``at`` (records at exactly ``at`` included) and the next record's index."""
        i = bisect.bisect_right(self.times, at)
        return (self.states[i - 1] if i else EMPTY), i

    def first_answer_after(self, i: int, until: datetime) -> State | None:
        """State after the first consent/1 from record ``i`` on, if it occurs by ``until``.

        An erasure in between ends the search (that answer belongs to a new life).
        """
        for j in range(i, len(self.times)):
            if self.times[j] > until or self.kinds[j] == "erasure":
                return None
            if self.kinds[j] == "consent":
                return self.states[j]
        return None


def build_books(records: Mapping[str, list[Record]], policy: Policy) -> dict[str, Book]:
    """One :class:`Book` per user from their consent/rights records (any order)."""
    books = {}
    for user, recs in records.items():
        book = Book(user)
        for rec in sorted(recs, key=lambda r: (r.at, r.index)):
            book.apply(rec, policy)
        books[user] = book
    return books
