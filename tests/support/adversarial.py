"""Malformed and adversarial input at volume, each message labelled with what the contract
(DESIGN.md section 4 and the JSON Schemas in ``schemas/``) says the pipeline must do with it.

``generate`` is seeded and cheap (about 10 µs a message): a pool of users answers the consent
banner first, then a stream mixes ordinary events, valid but hostile ones (SQL-looking screen
names, poles and antimeridian, timestamps at the lateness and future bounds, maximal lengths,
odd Unicode, re-sent event ids) and invalid ones (wrong types, missing or unknown fields,
huge strings, deep nesting, invalid UTF-8, bad timestamps, out-of-range coordinates, payloads
far over 64 KiB). Labels: ``valid`` must be decided, ``invalid`` must be dead-lettered with a
reason, ``either`` (times a UTC datetime cannot hold) may be either, never lost or fatal.
"""

from __future__ import annotations

import random
from datetime import datetime

from pipeline.topics import CONSENT, NAVIGATION
from tests.support.fuzzbase import Builder, Case, dumps
from tests.support.mutations import (
    ADVERSARIAL_VALID,
    BURST,
    HUGE_PAYLOAD_BYTES,
    INVALID,
    RARE,
    Made,
    ordinary,
)

__all__ = ["Case", "generate"]


def _case(b: Builder, made: Made) -> Case:
    topic, payload, expect, kind = made
    user = payload.get("user_id") if isinstance(payload, dict) else None
    key = (user if isinstance(user, str) and user else b.rng.choice(b.users)).encode()
    value = dumps(payload) if isinstance(payload, dict) else payload
    return Case(topic, key, value, expect, kind)


def _pick(b: Builder) -> Made:
    r = b.rng.random()
    if r < 0.40:
        return ordinary(b)
    if r < 0.55:
        return b.rng.choice(ADVERSARIAL_VALID)(b)
    if r < 0.994:
        return b.rng.choice(INVALID)(b)
    return b.rng.choice(RARE)(b)


def generate(count: int, seed: int, now: datetime, users: int = 500) -> list[Case]:
    """``count`` labelled messages (deterministic for ``seed`` and ``now``).

    The users' banner answers come first; then the mix described in the module docstring,
    with a few payloads of ~900 KB, a burst of oversize events from one user, and re-sent
    copies of earlier valid messages (same event id, same bytes).
    """
    rng = random.Random(seed)
    b = Builder(rng, now, [f"fz{seed}-{i}" for i in range(users)])
    cases = [_case(b, (CONSENT, b.consent(u, ago=7200.0), "valid", "banner")) for u in b.users]
    specials = {rng.randrange(len(cases), count): "huge" for _ in range(3)}
    specials[rng.randrange(len(cases), count)] = "burst"
    while len(cases) < count:
        special = specials.pop(len(cases), None)
        if special == "huge":
            event = b.navigation(debug="h" * HUGE_PAYLOAD_BYTES)
            cases.append(_case(b, (NAVIGATION, event, "invalid", "huge_payload")))
        elif special == "burst":
            user = rng.choice(b.users)
            cases += [_case(b, (NAVIGATION, {**b.navigation(user_id=user), "debug": "b" * 70_000},
                                "invalid", "oversize_burst")) for _ in range(BURST)]
        elif cases and rng.random() < 0.01:
            cases.append(_resend(rng, cases))
        else:
            cases.append(_case(b, _pick(b)))
    return cases[:count]


def _resend(rng: random.Random, cases: list[Case]) -> Case:
    for _ in range(20):
        old = rng.choice(cases)
        if old.expect == "valid" and old.kind != "time_bounds":
            return Case(old.topic, old.key, old.value, "valid", "resent_event_id")
    return cases[-1]
