"""The oracle: what the pipeline must conclude from the messages the simulator sent.

An independent, deliberately plain implementation of the consent semantics (the lead's
decision, DESIGN.md section 6) over the production-ordered messages: every (event, purpose)
decision, the section 8 tables before the k-threshold, and counts of what was sent. Tests
compare the pipeline's outputs with it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.policy import Policy, Purpose
from pipeline.simulator.aggregates import Tables
from pipeline.simulator.clock import iso_day
from pipeline.simulator.ledger import EMPTY, Book, Record, build_books
from pipeline.simulator.model import STREAM_OF_TOPIC
from pipeline.simulator.traffic import Message

HasKey = Callable[[str, datetime], bool]


def all_keys(purpose: str, at: datetime) -> bool:
    """Default key check: every (purpose, epoch) key exists."""
    return True


@dataclass(frozen=True)
class Parsed:
    """One valid input event: production position, stream, body and time."""

    index: int
    stream: str
    event: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True)
class Rules:
    """What decisions depend on besides consent: the policy, processing time, keys."""

    policy: Policy
    now: datetime
    has_key: HasKey = all_keys

    def time_outcome(self, at: datetime) -> str | None:
        """``dropped_late``/``dropped_future`` for times outside the accepted bounds."""
        if at < self.now - timedelta(days=self.policy.lateness_days):
            return "dropped_late"
        if at > self.now + timedelta(minutes=self.policy.future_minutes):
            return "dropped_future"
        return None


def decide(ev: Parsed, purpose: Purpose, book: Book | None, erased: bool, rules: Rules) -> str:
    """The outcome of ``ev`` for ``purpose`` (semantics, in order)."""
    timely = rules.time_outcome(ev.at)
    if timely is not None:
        return timely
    if erased:
        return "dropped_erased"
    if not rules.has_key(purpose.name, ev.at):
        return "dropped_no_key"
    state, following = book.as_of(ev.at) if book else (EMPTY, 0)
    if not purpose.consent_required:
        return "dropped_objection" if purpose.name in state.objected else "kept"
    effective = state
    if state.records == 0 and book is not None:
        grace = timedelta(seconds=rules.policy.grace_seconds)
        effective = book.first_answer_after(following, ev.at + grace) or state
    if effective.consent.get(purpose.name) is True:
        return "kept"
    if purpose.name in state.ever_granted:
        return "dropped_withdrawn"
    return "dropped_no_consent"


def _parse(messages: Iterable[Message]) -> tuple[list[Parsed], list[Message]]:
    valid, invalid = [], []
    for index, msg in enumerate(messages):
        stream = STREAM_OF_TOPIC[msg.topic]
        if msg.malformed:
            invalid.append(msg)
            continue
        event = json.loads(msg.value)
        at = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
        valid.append(Parsed(index, stream, event, at))
    return valid, invalid


def _erased(ev: Parsed, erasures: Mapping[str, list[Parsed]]) -> bool:
    """Occurred before one of the user's erasures but produced after it."""
    return any(ev.at < e.at and ev.index > e.index for e in erasures.get(ev.event["user_id"], []))


class Oracle:
    """Decisions and tables for one production-ordered list of messages."""

    def __init__(self, messages: Iterable[Message], rules: Rules) -> None:
        self.rules = rules
        self.messages = list(messages)
        self.valid, self.invalid = _parse(self.messages)
        records: dict[str, list[Record]] = defaultdict(list)
        self.erasures: dict[str, list[Parsed]] = defaultdict(list)
        for ev in self.valid:
            if ev.stream == "consent":
                records[ev.event["user_id"]].append(Record(ev.at, ev.index, ev.event))
                if ev.event.get("right") == "erasure":
                    self.erasures[ev.event["user_id"]].append(ev)
        self.books = build_books(records, rules.policy)

    def outcomes(self, ev: Parsed) -> dict[str, str]:
        """Purpose -> outcome for one navigation/geolocation event."""
        book = self.books.get(ev.event["user_id"])
        erased = _erased(ev, self.erasures)
        return {
            p.name: decide(ev, p, book, erased, self.rules)
            for p in self.rules.policy.purposes.values()
            if ev.stream in p.streams
        }

    def summary(self) -> dict[str, Any]:
        """Counts, decisions and tables (the ``truth`` JSON minus the run's parameters)."""
        tables = Tables(self.rules.policy)
        decisions: dict[str, Counter[str]] = defaultdict(Counter)
        for ev in self.valid:
            if ev.stream == "consent":
                continue
            outcomes = self.outcomes(ev)
            tables.add_event(ev.stream, ev.event, ev.at, outcomes)
            for purpose, outcome in outcomes.items():
                decisions[purpose][outcome] += 1
        # An invalid message has no trustworthy occurred_at: it counts on the processing day.
        today = iso_day(self.rules.now)
        for msg in self.invalid:
            tables.add_invalid(STREAM_OF_TOPIC[msg.topic], today)
        for book in self.books.values():
            for t in book.transitions:
                tables.add_transition(t)
        return {**self._counts(), "decisions": _sorted(decisions), "tables": tables.rows()}

    def _counts(self) -> dict[str, Any]:
        rights = Counter(str(ev.event["right"]) for ev in self.valid if "right" in ev.event)
        return {
            "active_users": len({m.key for m in self.messages}),
            "sent": _sorted(Counter(m.topic for m in self.messages)),
            "by_schema": _sorted(Counter(str(ev.event["schema"]) for ev in self.valid)),
            "rights": _sorted(rights),
            "malformed": _sorted(Counter(m.topic for m in self.invalid)),
            "malformed_kinds": _sorted(Counter(str(m.malformed) for m in self.invalid)),
            "unknown_purposes": sum(b.unknown_purposes for b in self.books.values()),
        }


def _sorted(counts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_sorted(v) if isinstance(v, Mapping) else v) for k, v in sorted(counts.items())}


def compute_truth(
    messages: Iterable[Message], policy: Policy, now: datetime, has_key: HasKey = all_keys
) -> dict[str, Any]:
    """The expected outcome of processing ``messages`` (in production order) at ``now``.

    Args:
        messages: What was produced, in production order.
        policy: The policy the pipeline runs with.
        now: Processing time (lateness and future bounds are relative to it).
        has_key: Whether a key exists for (purpose, event time); default: always.

    Returns:
        JSON-ready dict: ``active_users``, ``sent``, ``by_schema``, ``rights``, ``malformed``,
        ``malformed_kinds``, ``unknown_purposes``, ``decisions`` and ``tables``.
    """
    return Oracle(messages, Rules(policy, now, has_key)).summary()
