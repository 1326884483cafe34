"""The decision for one event and one purpose: keep it, or drop it and say why.

Pure functions over :class:`~processors.state.ConsentState`; the agents call them and count
every outcome. The rules are DESIGN.md section 6 (see docs/ARCHITECTURE.md for the names).
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.state import ConsentState
from schemas.records import Outcome as Outcome  # the engine and tests import it from here


@dataclass(frozen=True)
class Bounds:
    """Time bounds of the consent rules, in seconds."""

    lateness_s: float = 7 * 86400.0
    future_s: float = 300.0
    grace_s: float = 30.0


def time_outcome(ts: float, now: float, bounds: Bounds) -> Outcome | None:
    """``dropped_late``/``dropped_future`` when ``ts`` is outside the accepted bounds."""
    if ts < now - bounds.lateness_s:
        return "dropped_late"
    if ts > now + bounds.future_s:
        return "dropped_future"
    return None


def awaits_first_consent(state: ConsentState | None, ts: float, now: float, bounds: Bounds) -> bool:
    """Whether an event at ``ts`` should be held for the user's first consent.

    True when the user has no consent record at all yet and the event is recent enough that
    the banner answer may still be on its way (processing time within the grace window).
    """
    return (state is None or state.first_ts is None) and now - ts <= bounds.grace_s


def decide(
    state: ConsentState | None,
    purpose: str,
    consent_required: bool,
    ts: float,
    bounds: Bounds,
) -> Outcome:
    """Decide one event at ``ts`` for ``purpose`` from the user's consent state.

    Args:
        state: The user's state, or None when nothing is known (default deny).
        purpose: The purpose being decided.
        consent_required: False for legitimate-interest / legal-obligation purposes.
        ts: The event's ``occurred_at`` (epoch seconds).
        bounds: The grace window length.
    """
    if not consent_required:
        if state is not None and state.objected(purpose, ts):
            return "dropped_objection"
        return "kept"
    if state is None:
        return "dropped_no_consent"
    granted = state.as_of(purpose, ts)
    first = state.first_ts
    if granted is None and first is not None and 0 < first - ts <= bounds.grace_s:
        # Grace window: the banner answer came a moment after this event.
        granted = state.first_record_state(purpose)
    if granted:
        return "kept"
    if state.ever_granted(purpose, ts):
        return "dropped_withdrawn"
    return "dropped_no_consent"
