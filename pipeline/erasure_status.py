"""``rights status``: read what :mod:`pipeline.erasure_timeline` needs, and report it.

Reads the erasure (the rights audit, through :func:`find_erasure`, the one call into
:mod:`pipeline.rights`), the topic configs and broker intervals (``describe_configs``: what the
broker really applies, not what the policy asked for) and the local worker store files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError

from pipeline.erasure_timeline import BrokerTimers, Holds, Place, Row, Verdict, row, verdict
from pipeline.errors import PipelineError
from pipeline.kafka import make_admin
from pipeline.policy import Policy
from pipeline.settings import Settings
from pipeline.topics import WORKER_TABLES, TopicNames
from processors.context import bounds_of
from processors.engine import tombstone_expires_at

TOPIC_KEYS: Final = [
    "cleanup.policy", "retention.ms", "segment.ms", "max.compaction.lag.ms",
    "delete.retention.ms", "min.cleanable.dirty.ratio", "file.delete.delay.ms",
    "message.timestamp.type", "message.timestamp.after.max.ms",
]  # fmt: skip
BROKER_KEYS: Final = ["log.retention.check.interval.ms", "log.cleaner.backoff.ms"]
_CHUNK = 1 << 20

_RAW_TABLES: Final = {
    "consent": "consent state and history (table entry, then its tombstone)",
    "held": "index of events held in the grace window (entry, then its tombstone)",
    "held_event": "events held in the grace window: raw bodies with the raw id (then tombstones)",
}


class NoErasure(PipelineError):
    """No erasure is recorded for the user: ``rights status`` reports erasures only."""


class ConfigsUnreadable(PipelineError):
    """The broker did not describe the topic or broker configs (e.g. no DescribeConfigs ACL)."""


@dataclasses.dataclass(frozen=True)
class Erasure:
    """The erasure as the rights audit records it."""

    at: datetime
    applied: bool


@dataclasses.dataclass(frozen=True)
class Report:
    """What ``rights status`` prints."""

    erasure: Erasure
    rows: list[Row]
    verdict: Verdict
    now: datetime


def find_erasure(settings: Settings, policy: Policy, ring: Any, user: str) -> Erasure | None:
    """The user's latest erasure request (rights audit) and whether it has applied."""
    from pipeline import rights

    doc = rights.export(settings, policy, ring, user)
    times = [r["at"] for r in doc["rights_requests"] if r.get("right") == "erasure" and r["at"]]
    if not times:
        return None
    at = max(datetime.fromisoformat(t) for t in times).astimezone(UTC)
    marker = doc.get("erasure")
    return Erasure(at, marker is None or bool(marker.get("applied")))


def places(settings: Settings, policy: Policy) -> list[Place]:
    """Every topic that may hold the user's data, with what it may hold (prefixed names)."""
    raw_event = "the user's raw events (raw id as key and in the body)"
    names = TopicNames.from_settings(settings)
    found = [
        Place(names.navigation, "raw", raw_event),
        Place(names.geolocation, "raw", raw_event),
        Place(names.consent, "raw", "consent and rights records keyed by the raw id, then "
              "the worker's tombstone for that key"),
        Place(names.subject_keys, "raw", "the user's wrapped data keys (their ciphertexts "
              "stay decryptable until gone), then a tombstone under the keyed handle"),
        Place(names.deadletter, "raw", "the user's invalid input, encrypted: under their "
              "subject key when keyed by their id (unreadable once shredded), else under the "
              "consent-ledger key (may hold the raw id)"),
        Place(names.decisions, "pseudonymous", "outcomes and consent transitions under "
              "keyed ids and the consent-ledger pseudonym"),
    ]
    found += [Place(names.sanitized(p), "pseudonymous", "records under the purpose's "
                    "pseudonym; encrypted fields unreadable once the subject keys are gone")
              for p in sorted(policy.purposes)]  # fmt: skip
    return found + [_changelog_place(names, t, policy) for t in WORKER_TABLES]


def _changelog_place(names: TopicNames, table: str, policy: Policy) -> Place:
    name = names.changelog(table)
    if table == "erased":
        lateness = timedelta(seconds=tombstone_expires_at(0.0, bounds_of(policy)))
        return Place(name, "pseudonymous", "erasure marker (keyed handle, time only) that "
                     "keeps late events out, then its tombstone", starts=lateness)
    if table.startswith("rights_audit"):
        kept = timedelta(days=policy.consent_ledger.retention_days)
        return Place(name, "proof", "the erasure's audit record under the keyed handle "
                     "(no raw id)", starts=kept)
    return Place(name, "raw", _RAW_TABLES.get(table, "the user's table entries, then "
                                                     "their tombstones"))


def read_configs(admin: Any, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """The relevant configs of those ``names`` that exist (absent: not in the result)."""
    present = set(admin.list_topics())
    wanted = [n for n in names if n in present]
    if not wanted:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, TOPIC_KEYS) for n in wanted]
    described = admin.describe_configs(resources, config_filter="all")["topic"]
    return {n: {k: str(v["value"]) for k, v in described.get(n, {}).items()
                if v.get("value") is not None} for n in wanted}  # fmt: skip


def read_timers(admin: Any) -> BrokerTimers:
    """The broker intervals (the largest over all brokers: the bound must hold everywhere)."""
    ids = [str(b["broker_id"]) for b in admin.describe_cluster()["brokers"]]
    resources = [ConfigResource(ConfigResourceType.BROKER, i, BROKER_KEYS) for i in ids]
    described = admin.describe_configs(resources, config_filter="all")["broker"]
    values = {k: max(int(described[i][k]["value"]) for i in ids) for k in BROKER_KEYS}
    return BrokerTimers(values[BROKER_KEYS[0]], values[BROKER_KEYS[1]])


def store_row(data_dir: Path, user: str, now: datetime) -> Row:
    """Scan this host's worker table files for the raw id (workers elsewhere: scan there)."""
    name = f"worker store files ({data_dir}/worker-*)"
    holds: Holds = "raw"
    what = "table files (RocksDB) of the workers that run on this host"
    files = [p for d in sorted(data_dir.glob("worker-*")) for p in d.rglob("*") if p.is_file()]
    if not files:
        return Row(name, holds, what, now, "no worker store on this host (check other hosts)")
    hits = sum(1 for f in files if _contains(f, user.encode()))
    if hits:
        return Row(name, holds, what, None, f"raw id found now in {hits} of {len(files)} "
                   "file(s): gone when RocksDB compacts them (no time bound)")
    return Row(name, holds, what, now, f"raw id in none of {len(files)} file(s) (scanned now)")


def _contains(path: Path, needle: bytes) -> bool:
    """Whether the file holds ``needle``, read in chunks (store files may be large)."""
    tail = b""
    try:
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                if needle in tail + chunk:
                    return True
                tail = chunk[-(len(needle) - 1):] if len(needle) > 1 else b""
    except OSError:  # a file RocksDB removed while we scanned: nothing there any more
        return False
    return False


def status(settings: Settings, policy: Policy, ring: Any, user: str) -> Report:
    """The erasure timeline of ``user`` (README, "Erasure timeline").

    Raises:
        NoErasure: no erasure is recorded for the user.
    """
    erasure = find_erasure(settings, policy, ring, user)
    if erasure is None:
        raise NoErasure("no erasure is recorded for this user: `rights status` reports an "
                        "erasure's timeline (publish one with `rights request --right erasure`)")
    found = places(settings, policy)
    admin = make_admin(settings)
    try:
        configs = read_configs(admin, [p.name for p in found])
        timers = read_timers(admin)
    except KafkaError as exc:
        raise ConfigsUnreadable(f"the broker did not describe the topic configs the bounds "
                                f"come from ({type(exc).__name__}); check DescribeConfigs "
                                "rights on the topics and the cluster") from None
    finally:
        admin.close()
    now = datetime.now(UTC)
    rows = [row(dataclasses.replace(p, configs=configs.get(p.name)), erasure.at, timers)
            for p in found]  # fmt: skip
    rows.append(store_row(settings.data_dir, user, now))
    return Report(erasure, rows, verdict(rows), now)


def summary(report: Report) -> Iterator[str]:
    """The lines under the table: when the erasure is complete, and what is left after."""
    at, v, now = report.erasure.at, report.verdict, report.now
    if report.erasure.applied:
        yield f"erasure requested at {_t(at)}, applied by the worker"
    else:
        yield (f"erasure requested at {_t(at)} is not applied yet (the worker waits for events "
               "sent before it); bounds count from the request")
    if v.complete_at is None:
        yield "erasure complete: no bound (see the rows without a time)"
    elif v.complete_at <= now and report.erasure.applied:
        yield f"erasure complete: no raw id or readable data left (since {_t(v.complete_at)})"
    else:
        yield f"erasure complete at {_t(v.complete_at)} (not yet)"
    if v.all_gone_at is not None and v.all_gone_at > (v.complete_at or now):
        yield (f"pseudonymous records and the erasure marker gone by {_t(v.all_gone_at)}; "
               "the audit record stays as proof")


def _t(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"
