"""Consent and rights events: how they change a user's consent state.

Pure functions: the agent loads the state from the consent table, calls these, stores the
result and emits what they return. A consent/1 event applies its TCF string first (mapped by
the policy), then its explicit purposes, then GPC (denies every purpose marked ``gpc_denies``);
purposes it does not name keep their state; purposes the policy does not know are ignored and
counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.policy import Policy
from pipeline.policy.exceptions import TcStringError
from pipeline.policy.tcf import tcf_purposes
from processors.state import ConsentState, Transition
from schemas.events import Consent, Rights


@dataclass
class ConsentEffect:
    """What applying one consent/1 event did."""

    state: ConsentState
    transitions: dict[str, Transition] = field(default_factory=dict)
    unknown_purposes: int = 0
    tcf_rejected: str | None = None
    """Why the event's TC string was refused (``TcStringError.reason``); None: read or absent."""


def requested_changes(event: Consent, policy: Policy) -> tuple[dict[str, bool], int, str | None]:
    """The per-purpose changes a consent/1 event asks for.

    A TC string is applied whole or not at all (never a partial read); a refused one leaves
    the explicit purposes and GPC to decide.

    Returns:
        (changes, number of unknown purposes ignored, why the TC string was refused or None).
    """
    changes: dict[str, bool] = {}
    tcf_rejected = None
    if event.tcf is not None:
        tcf_rejected = _apply_tcf(event.tcf, policy, changes)
    unknown = 0
    for purpose, granted in event.purposes.items():
        if policy.is_known(purpose):
            changes[purpose] = granted
        else:
            unknown += 1
    if event.gpc:
        for spec in policy.purposes.values():
            if spec.gpc_denies:
                changes[spec.name] = False
    # Purposes that do not need consent are not switched by consent answers.
    changes = {p: g for p, g in changes.items() if policy.purposes[p].consent_required}
    return changes, unknown, tcf_rejected


def _apply_tcf(tc_string: str, policy: Policy, changes: dict[str, bool]) -> str | None:
    try:
        changes.update(tcf_purposes(tc_string, policy))
    except TcStringError as exc:
        return exc.reason
    return None


def apply_consent(state: ConsentState | None, event: Consent, policy: Policy) -> ConsentEffect:
    """Apply a consent/1 event to ``state`` (a fresh state when None)."""
    state = ConsentState() if state is None else state
    changes, unknown, tcf_rejected = requested_changes(event, policy)
    transitions = state.apply(event.occurred_at.timestamp(), changes)
    return ConsentEffect(state, transitions, unknown, tcf_rejected)


def objected_purposes(event: Rights, policy: Policy) -> list[str]:
    """Purposes a rights/1 objection applies to: the named objectable ones, or all of them."""
    objectable = [p.name for p in policy.purposes.values() if p.objectable]
    if not event.purposes:
        return objectable
    return [p for p in event.purposes if p in objectable]


def apply_objection(state: ConsentState | None, event: Rights, policy: Policy) -> ConsentState:
    """Apply a rights/1 objection to ``state`` (a fresh state when None)."""
    state = ConsentState() if state is None else state
    state.object_to(event.occurred_at.timestamp(), objected_purposes(event, policy))
    return state
