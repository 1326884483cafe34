"""Generate the simulated traffic: a deterministic, production-ordered list of Kafka messages.

:func:`generate` is pure: the same :class:`SimulationConfig` (seed and start included) gives the
same bytes. Messages are grouped in time-ordered chunks; in each chunk the consent topic's
messages are produced (and acknowledged) before the navigation and geolocation ones, so the
processors always know the consent that applies to an event when they see it. Consent messages
are placed 31 s "early" so that an answer arriving within the 30 s grace window after a screen
view is acknowledged before that view; an erasure goes in a chunk after all of its user's other
messages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.simulator import model
from pipeline.simulator.activity import timeline
from pipeline.simulator.clock import rfc3339, to_ms
from pipeline.simulator.consent import banner_answer
from pipeline.simulator.exceptions import SimulatorError
from pipeline.simulator.fitting import fit
from pipeline.simulator.identifiers import Collector
from pipeline.simulator.malformed import KINDS, TOPIC_WEIGHTS, corrupt, dumps
from pipeline.simulator.model import Draft, User
from pipeline.simulator.people import make_users, new_uuid
from pipeline.simulator.sessions import SessionWriter, Span, pick_time

CONSENT_LEAD = timedelta(seconds=31)  # > the 30 s grace window


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate."""

    users: int
    events: int
    seed: int
    start: datetime
    hours: int
    chunk_size: int = 500
    malformed_share: float = model.MALFORMED_SHARE

    @property
    def span(self) -> Span:
        """The simulated time range."""
        return Span(self.start, self.start + timedelta(hours=self.hours))


@dataclass(frozen=True)
class Message:
    """One Kafka message, as produced.

    ``batch`` orders production: every message of a batch is acknowledged before the next
    batch is sent (even batches hold consent messages, odd ones navigation/geolocation).
    ``malformed`` names the corruption of a deliberately invalid message, else None.
    """

    topic: str
    key: bytes
    value: bytes
    timestamp_ms: int
    batch: int
    malformed: str | None = None


@dataclass(frozen=True)
class Traffic:
    """The generated messages in production order, and the config that produced them."""

    config: SimulationConfig
    messages: tuple[Message, ...]
    identifiers: dict[str, list[Any]]
    """Raw identifiers that were sent (test material for leak scans)."""

    def batches(self) -> Iterator[list[Message]]:
        """Messages grouped by ``batch``, in production order."""
        current: list[Message] = []
        for msg in self.messages:
            if current and msg.batch != current[0].batch:
                yield current
                current = []
            current.append(msg)
        if current:
            yield current


def _check(config: SimulationConfig) -> None:
    if config.users < 1 or config.events < 1:
        raise SimulatorError("--users and --events must be at least 1")
    if config.chunk_size < 1:
        raise SimulatorError("chunk size must be at least 1")


def _malformed(rng: random.Random, users: list[User], span: Span, count: int) -> list[Draft]:
    out = []
    for _ in range(count):
        user = rng.choice(users)
        high = user.erase_at - timedelta(seconds=1) if user.erase_at else span.end
        at = pick_time(rng, span.start, max(span.start, high))
        topic = rng.choices(list(TOPIC_WEIGHTS), weights=list(TOPIC_WEIGHTS.values()))[0]
        if topic == model.GEOLOCATION and user.platform == "web":
            topic = model.NAVIGATION  # the web app sends no location
        writer = SessionWriter(rng, user, new_uuid(rng), rng.choice(user.ips))
        if topic == model.NAVIGATION:
            draft = writer.view(at, rng.choice(["home", "contracts", "certificates"]))
        elif topic == model.GEOLOCATION:
            draft = writer.ping(at)
        else:
            draft = banner_answer(rng, user, at)
        draft.malformed = rng.choice(KINDS[topic])
        out.append(draft)
    return out


def _drafts(rng: random.Random, config: SimulationConfig) -> list[Draft]:
    users = make_users(rng, config.users)
    malformed = round(config.events * config.malformed_share)
    valid = config.events - malformed
    weight = sum(u.activity for u in users)
    span = config.span
    timelines = [
        timeline(rng, u, span, max(1, round(0.9 * valid * u.activity / weight))) for u in users
    ]
    fit(rng, users, timelines, span, valid)
    drafts = [d for tl in timelines for d in tl] + _malformed(rng, users, span, malformed)
    for seq, draft in enumerate(drafts):
        draft.seq = seq
    drafts.sort(key=lambda d: (d.at, d.seq))
    return drafts


def _event(draft: Draft, event_id: str) -> dict[str, Any]:
    head = {
        "schema": draft.schema,
        "event_id": event_id,
        "user_id": draft.user.user_id,
        "occurred_at": rfc3339(draft.at, local=draft.user.platform != "web"),
    }
    return {**head, **draft.body}


def _batches(drafts: list[Draft], chunk_size: int) -> list[int]:
    """Batch number of each draft (see the module docstring)."""

    def lead(d: Draft) -> datetime:
        return d.at - CONSENT_LEAD if d.topic == model.CONSENT else d.at

    order = sorted(range(len(drafts)), key=lambda i: (lead(drafts[i]), drafts[i].seq))
    chunk = [0] * len(drafts)
    for pos, i in enumerate(order):
        chunk[i] = pos // chunk_size
    last: dict[str, int] = {}
    for i, d in enumerate(drafts):
        if d.body.get("right") != "erasure":
            last[d.user.user_id] = max(last.get(d.user.user_id, 0), chunk[i])
    for i, d in enumerate(drafts):
        if d.body.get("right") == "erasure":
            chunk[i] = max(chunk[i], last.get(d.user.user_id, -1) + 1)
    return [2 * c + (d.topic != model.CONSENT) for c, d in zip(chunk, drafts, strict=True)]


def generate(config: SimulationConfig) -> Traffic:
    """Generate ``config.events`` messages for ``config.users`` users (deterministic).

    Raises:
        SimulatorError: the config cannot work (no users, no events).
    """
    _check(config)
    rng = random.Random(config.seed)  # noqa: S311 - reproducible simulation, not secrets
    drafts = _drafts(rng, config)
    batches = _batches(drafts, config.chunk_size)
    collector = Collector()
    messages = []
    for draft, batch in zip(drafts, batches, strict=True):
        event = _event(draft, new_uuid(rng))
        collector.add(event)
        value = corrupt(rng, event, draft.malformed) if draft.malformed else dumps(event)
        key = draft.user.user_id.encode()
        messages.append(Message(draft.topic, key, value, to_ms(draft.at), batch, draft.malformed))
    order = sorted(range(len(messages)), key=lambda i: messages[i].batch)
    return Traffic(config, tuple(messages[i] for i in order), collector.result())
