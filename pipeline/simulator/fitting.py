"""Bring the users' timelines to exactly the requested number of valid messages.

Trimming removes random unpinned navigation/geolocation events (never a first screen view, a
consent answer or a rights request), then whole users if that is not enough. Padding adds
extra sessions to users who never erase, so an erasure stays each user's last activity.
"""

from __future__ import annotations

import random
from datetime import timedelta

from pipeline.simulator.model import Draft, User
from pipeline.simulator.sessions import Span, pick_time, session, session_length


def _trim(rng: random.Random, timelines: list[list[Draft]], excess: int) -> int:
    removable = [(u, i) for u, tl in enumerate(timelines) for i, d in enumerate(tl) if not d.pinned]
    chosen = set(rng.sample(removable, min(excess, len(removable))))
    for u in {u for u, _ in chosen}:
        timelines[u] = [d for i, d in enumerate(timelines[u]) if (u, i) not in chosen]
    return excess - len(chosen)


def _drop_users(users: list[User], timelines: list[list[Draft]], excess: int) -> None:
    for u in range(len(timelines) - 1, -1, -1):
        if excess <= 0:
            return
        excess -= len(timelines[u])
        timelines[u] = []
        users[u].erase_at = None


def _pad_candidates(users: list[User], timelines: list[list[Draft]]) -> list[int]:
    active = [u for u, tl in enumerate(timelines) if tl and users[u].erase_at is None]
    if active:
        return active
    idle = [u for u, user in enumerate(users) if user.erase_at is None]
    if idle:
        return idle
    # Everyone erases (tiny simulations): the first user keeps their data instead.
    timelines[0] = [d for d in timelines[0] if d.body.get("right") != "erasure"]
    users[0].erase_at = None
    return [0]


def _pad(
    rng: random.Random, users: list[User], timelines: list[list[Draft]], span: Span, most: int
) -> int:
    """Add one extra session (at most ``most`` events) to a user who does not erase.

    Returns:
        How many events it added (at least one).
    """
    u = rng.choice(_pad_candidates(users, timelines))
    tl = timelines[u]
    low = tl[0].at if tl else span.start
    at = pick_time(rng, low, max(low, span.end - timedelta(minutes=15)))
    length = min(most, session_length(rng))
    extra = [d for d in session(rng, users[u], at, length, pings=False) if d.at <= span.end]
    timelines[u] = sorted([*tl, *extra], key=lambda d: d.at)
    if not tl and extra:
        extra[0].pinned = True
    return len(extra)


def fit(
    rng: random.Random,
    users: list[User],
    timelines: list[list[Draft]],
    span: Span,
    target: int,
) -> None:
    """Trim or pad ``timelines`` in place until they hold exactly ``target`` drafts."""
    total = sum(map(len, timelines))
    if total > target:
        left = _trim(rng, timelines, total - target)
        if left > 0:
            _drop_users(users, timelines, left)
        total = sum(map(len, timelines))
    while total < target:
        total += _pad(rng, users, timelines, span, target - total)
