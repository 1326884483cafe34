"""Synthetic processor output for the sink's tests and benchmark, with its exact expectation.

Generates what the processors would emit for a made-up population (sanitized records and
decisions in the ARCHITECTURE.md format, partitioned by user like the processors do), keeps
the raw identifiers it invented (for leak scans) and computes, independently of the sink's
SQL, the partial aggregates those records must produce.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

_APPS = (("mm-app", "ios"), ("mm-app", "android"), ("mm-web", "web"))
_SCREENS = tuple(f"screen-{i}" for i in range(12))
_CAMPAIGNS = ("spring", "auto-2026", "sante")
_CONSENT_PURPOSES = ("audience_measurement", "geolocation", "advertising")


@dataclasses.dataclass
class RawIdentifiers:
    """What must never reach a DuckDB file."""

    user_ids: list[str] = dataclasses.field(default_factory=list)
    device_ids: list[str] = dataclasses.field(default_factory=list)
    ips: list[str] = dataclasses.field(default_factory=list)
    coordinates: list[float] = dataclasses.field(default_factory=list)
    pseudonyms: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Synthetic:
    """Records per (topic kind, partition) and what they must aggregate to."""

    sanitized: dict[str, list[tuple[int, dict[str, Any]]]]
    """purpose -> [(partition, record)]."""
    decisions: list[tuple[int, dict[str, Any]]]
    raw: RawIdentifiers
    expected: dict[str, dict[tuple[Any, ...], tuple[int, ...]]]
    """table -> key -> counts, in the order of :data:`pipeline.sink.published.TABLES`."""

    @property
    def record_count(self) -> int:
        """Records of all kinds (one copy)."""
        return sum(len(v) for v in self.sanitized.values()) + len(self.decisions)


@functools.lru_cache(maxsize=4096)
def _iso_hour(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%dT%H:00:00Z")


def _pseudonym(key: bytes, purpose: str, user: str) -> str:
    digest = hmac.new(key, f"{purpose}\x00{user}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode().rstrip("=")


class _Builder:
    def __init__(self, rng: random.Random, partitions: int, now: datetime) -> None:
        self.rng, self.partitions, self.now = rng, partitions, now
        self.key = rng.randbytes(32)
        self.out = Synthetic(defaultdict(list), [], RawIdentifiers(), {})
        self.rows: dict[str, dict[tuple[Any, ...], list[Any]]] = defaultdict(dict)
        self.pseudonyms: dict[tuple[str, str], str] = {}

    def pseudonym(self, purpose: str, uid: str) -> str:
        key = (purpose, uid)
        if key not in self.pseudonyms:
            self.pseudonyms[key] = _pseudonym(self.key, purpose, uid)
            self.out.raw.pseudonyms.append(self.pseudonyms[key])
        return self.pseudonyms[key]

    def _row(self, table: str, key: tuple[Any, ...], width: int) -> list[Any]:
        return self.rows[table].setdefault(key, [0] * width + [set()])

    def user(self, i: int) -> tuple[str, int, frozenset[str]]:
        uid = f"CTR-{i:07d}-{self.rng.randrange(10**6):06d}"
        raw = self.out.raw
        raw.user_ids.append(uid)
        raw.device_ids.append(f"dev-{self.rng.getrandbits(64):016x}")
        raw.ips.append(f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{i % 250 + 1}")
        granted = frozenset(p for p in _CONSENT_PURPOSES if self.rng.random() < 0.7)
        return uid, int(hashlib.sha256(uid.encode()).hexdigest(), 16) % self.partitions, granted

    def event(self, n: int, uid: str, part: int, granted: frozenset[str]) -> None:
        at = self.now - timedelta(minutes=self.rng.randrange(48 * 60))
        hour = at.replace(minute=0, second=0, microsecond=0)
        eid = f"evt-{n:08d}-{self.rng.getrandbits(32):08x}"
        nav = self.rng.random() < 0.8
        outcomes: dict[str, str] = {}
        purposes = ("audience_measurement", "advertising") if nav else ("geolocation",)
        for purpose in purposes:
            outcomes[purpose] = "kept" if purpose in granted else "dropped_no_consent"
            if purpose in granted:
                self.kept(purpose, eid, part, uid, hour, nav)
        outcomes["fraud_prevention"] = "kept"
        stream = "navigation" if nav else "geolocation"
        self.decision(part, {"kind": "event", "event_id": eid, "stream": stream,
                             "day": hour.date().isoformat(), "outcomes": outcomes})

    def decision(self, part: int, record: dict[str, Any]) -> None:
        self.out.decisions.append((part, record))
        if record["kind"] == "event":
            for purpose, outcome in record["outcomes"].items():
                key = (date.fromisoformat(record["day"]), record["stream"], purpose, outcome)
                self._row("processing_daily", key, 1)[0] += 1

    def kept(self, purpose: str, eid: str, part: int, uid: str, hour: datetime, nav: bool) -> None:
        pseudo = self.pseudonym(purpose, uid)
        app, platform = self.rng.choice(_APPS)
        rec: dict[str, Any] = {
            "event_id": eid, "purpose": purpose, "stream": "navigation" if nav else "geolocation",
            "hour": _iso_hour(hour), "epoch": _iso_hour(hour)[:7],
            "pseudonym": pseudo, "anonymous": False, "app": app, "platform": platform,
            "screen": None, "type": None, "campaign": None, "cell": None,
            "enc": {"device_id": base64.b64encode(self.rng.randbytes(40)).decode()},
        }
        if nav:
            rec.update(screen=self.rng.choice(_SCREENS), type="screen_view")
            if purpose == "advertising":
                rec["campaign"] = self.rng.choice((*_CAMPAIGNS, None))
        else:
            lat, lon = 48.8 + self.rng.random() / 5, 2.2 + self.rng.random() / 5
            self.out.raw.coordinates += [lat, lon]
            rec["cell"] = f"u09t{self.rng.choice('uvy')}"
            rec["enc"]["coords"] = base64.b64encode(self.rng.randbytes(48)).decode()
        if purpose == "advertising" and rec["campaign"] is None:
            return
        self.out.sanitized[purpose].append((part, rec))
        self.expect(rec, hour)

    def expect(self, rec: dict[str, Any], hour: datetime) -> None:
        day, p, member = hour.date(), rec["purpose"], rec["pseudonym"]
        rows: list[tuple[str, tuple[Any, ...]]] = []
        if p == "audience_measurement":
            dims = (rec["app"], rec["platform"], rec["screen"])
            rows = [("navigation_hourly", (hour, *dims)), ("navigation_daily", (day, *dims))]
        elif p == "geolocation":
            rows = [("geolocation_hourly", (hour, rec["cell"]))]
        else:
            rows = [("campaign_daily", (day, rec["app"], rec["campaign"]))]
        for table, key in rows:
            row = self._row(table, key, 1)
            row[0] += 1
            row[-1].add(member)

    def consent(self, n: int, uid: str, part: int, granted: frozenset[str]) -> None:
        day = (self.now - timedelta(hours=self.rng.randrange(48))).date().isoformat()
        subject = self.pseudonym("consent_ledger", uid)
        for purpose in _CONSENT_PURPOSES:
            transition = "granted" if purpose in granted else "denied"
            self.transition(n, part, day, purpose, transition, subject)
            if purpose in granted and self.rng.random() < 0.1:
                self.transition(n + 1, part, day, purpose, "withdrawn", subject)

    def transition(self, n: int, part: int, day: str, purpose: str, tr: str, subject: str) -> None:
        self.out.decisions.append((part, {
            "kind": "consent", "event_id": f"cns-{n:08d}", "purpose": purpose, "day": day,
            "transition": tr, "subject": subject}))
        row = self._row("consent_daily", (date.fromisoformat(day), purpose), 3)
        index = ("granted", "denied", "withdrawn").index(tr)
        row[3].add(subject)
        row.append((index, subject))

    def finish(self) -> Synthetic:
        for table, rows in self.rows.items():
            expected: dict[tuple[Any, ...], tuple[int, ...]] = {}
            for key, row in rows.items():
                expected[key] = _finish_row(table, row)
            self.out.expected[table] = expected
        self.out.sanitized = dict(self.out.sanitized)
        return self.out


def _finish_row(table: str, row: list[Any]) -> tuple[int, ...]:
    if table == "processing_daily":
        return (row[0],)
    if table == "consent_daily":
        members = row[3]
        pairs = {p for p in row[4:]}
        counts = [sum(1 for i, _ in pairs if i == j) for j in range(3)]
        return (*counts, len(members))
    views, members = row[0], row[1]
    if table.startswith("navigation"):
        return (views, len(members), 0)
    if table == "geolocation_hourly":
        return (len(members), views)
    return (views, len(members))


def generate(events: int, users: int, partitions: int, seed: int, now: datetime) -> Synthetic:
    """Make ``events`` navigation/geolocation events of ``users`` users, plus their consents.

    Args:
        events: input events (each yields one decision and 0-2 sanitized records).
        users: population size.
        partitions: partition count of the topics (records of a user share one).
        seed: makes the output reproducible.
        now: events occur within the 48 hours before it (naive UTC).
    """
    b = _Builder(random.Random(seed), partitions, now)
    people = [b.user(i) for i in range(users)]
    for i, (uid, part, granted) in enumerate(people):
        b.consent(2 * i, uid, part, granted)
    for n in range(events):
        uid, part, granted = people[b.rng.randrange(users)]
        b.event(n, uid, part, granted)
    for n in range(max(1, events // 1000)):
        b.decision(n % partitions, {"kind": "invalid", "source": f"app.navigation.v1:{n}:{n}",
                                    "stream": "navigation", "day": now.date().isoformat(),
                                    "reason": "lat: expected a number <= 90, got 91"})
        b._row("processing_daily", (now.date(), "navigation", "all", "invalid"), 1)[0] += 1
    return b.finish()


def messages(
    records: list[tuple[int, dict[str, Any]]], per_message: int
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Group records into messages of ``per_message`` records of one partition, in order."""
    by_part: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for part, rec in records:
        by_part[part].append(rec)
    for part, recs in sorted(by_part.items()):
        for start in range(0, len(recs), per_message):
            yield part, recs[start : start + per_message]


def observed(partials: Mapping[str, Any]) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Partials (see :func:`pipeline.sink.published.read_partials`) in the shape of
    :attr:`Synthetic.expected`, for comparison."""
    from pipeline.sink.published import TABLES

    out: dict[str, dict[tuple[Any, ...], tuple[int, ...]]] = {}
    for table in TABLES:
        rows = partials[table.name].to_pylist()
        out[table.name] = {
            tuple(r[k] for k in table.keys): tuple(int(r[c]) for c in table.counts) for r in rows
        }
    return out
