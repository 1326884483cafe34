"""One user's whole activity over the span: sessions, consent answers, rights requests.

Ordering guarantees the ground truth relies on:
- the banner answer comes 1-20 s after the first screen view (inside the 30 s grace window),
  except for "late answer" users (35-180 s, outside it);
- the geolocation answer comes before the first location ping it governs;
- an erasure is the user's last activity (10 min to 3 h after everything else).
"""

from __future__ import annotations

import random
from datetime import timedelta

from pipeline.simulator import model
from pipeline.simulator.consent import (
    banner_answer,
    geolocation_answer,
    rights_request,
    settings_change,
)
from pipeline.simulator.model import Draft, User
from pipeline.simulator.sessions import SessionWriter, Span, gap, pick_time, session, session_length

_LAST_SESSION_MARGIN = timedelta(minutes=15)


def _sessions(rng: random.Random, user: User, span: Span, nav_target: int) -> list[list[Draft]]:
    count = max(1, round(nav_target / model.MEAN_SESSION_SCREENS))
    latest = max(span.start, span.end - _LAST_SESSION_MARGIN)
    starts = sorted(pick_time(rng, span.start, latest) for _ in range(count))
    return [session(rng, user, at, session_length(rng)) for at in starts]


def _first_answers(rng: random.Random, user: User, drafts: list[Draft]) -> list[Draft]:
    out = []
    first = drafts[0]
    first.pinned = True
    if user.answers:
        delay = rng.uniform(35.0, 180.0) if user.late_answer else rng.uniform(1.0, 20.0)
        out.append(banner_answer(rng, user, first.at + timedelta(seconds=delay)))
    nearby = next((d for d in drafts if d.body.get("screen") == model.FIND_NEARBY), None)
    if user.find_nearby and nearby is not None:
        nearby.pinned = True
        # Pings follow the view by >= 2 s: the answer (tap on the prompt) comes first.
        out.append(geolocation_answer(user, nearby.at + timedelta(seconds=rng.uniform(0.5, 1.9))))
    return out


def _settings_screen(rng: random.Random, user: User, after: Draft, screen: str) -> Draft:
    """A view of ``screen`` after ``after``, in the same session (for a request that follows)."""
    writer = SessionWriter(rng, user, after.session_id or "", str(after.body.get("ip", "")))
    view = writer.view(after.at + gap(rng), screen)
    view.pinned = True
    return view


def _later(rng: random.Random, user: User, sessions: list[list[Draft]]) -> list[Draft]:
    out: list[Draft] = []
    if len(sessions) > 1:
        # Not the last session when possible: events after a change show its effect.
        last = rng.choice(sessions[1:-1] or sessions[1:])[-1]
        view = _settings_screen(rng, user, last, model.PRIVACY_SCREEN)
        change = settings_change(rng, user, view.at + timedelta(seconds=rng.uniform(2.0, 15.0)))
        if change is not None:
            out += [view, change]
    for right in user.rights:
        if right == "erasure":
            continue
        last = rng.choice(sessions)[-1]
        view = _settings_screen(rng, user, last, "profile")
        at = view.at + timedelta(seconds=rng.uniform(5, 60))
        out += [view, rights_request(rng, user, at, right)]
    return out


def timeline(rng: random.Random, user: User, span: Span, nav_target: int) -> list[Draft]:
    """Everything ``user`` sends during ``span``, sorted by time.

    Args:
        rng: The simulation's generator.
        user: The customer (``user.erase_at`` is set when they request erasure).
        span: Simulated time range.
        nav_target: Rough number of navigation events wanted for this user.
    """
    sessions = _sessions(rng, user, span, nav_target)
    drafts = [d for s in sessions for d in s]
    drafts += _first_answers(rng, user, drafts)
    drafts += _later(rng, user, sessions)
    drafts = sorted((d for d in drafts if d.at <= span.end), key=lambda d: d.at)
    if "erasure" in user.rights and drafts:
        at = drafts[-1].at + timedelta(seconds=rng.uniform(600, 3 * 3600))
        if at <= span.end:
            user.erase_at = at
            drafts.append(rights_request(rng, user, at, "erasure"))
    return drafts
