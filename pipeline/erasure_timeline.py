"""When each place that held an erased user's data no longer does: pure computation.

Bounds come from the configs the broker reports (never assumed defaults) and from Kafka's
rules (README, "Erasure timeline"), for a record written at or before ``t``:

- delete-policy topic: Kafka deletes a whole *closed* segment once its newest record is
  ``retention.ms`` old, at the next retention check (``log.retention.check.interval.ms``), and
  removes the files ``file.delete.delay.ms`` later. A segment closes at the first append once
  its first record is ``segment.ms`` old. With producer timestamps (``CreateTime``) a record may
  be stamped up to ``message.timestamp.after.max.ms`` ahead, which delays both, hence::

      t + segment.ms + retention.ms + 2 x skew + retention check + file.delete.delay.ms

- compacted topic: a segment closes once ``min(segment.ms, max.compaction.lag.ms)`` old and a
  dirty segment is compacted once its first record is ``max.compaction.lag.ms`` old (the idle
  cleaner looks every ``log.cleaner.backoff.ms``): the superseded value is gone by
  ``t + skew + lag + backoff``; the tombstone (its key) is kept ``delete.retention.ms`` after
  that first pass and dropped by the next pass, ``lag + backoff`` later; files are removed
  ``file.delete.delay.ms`` after each pass::

      t + skew + 2 x (lag + backoff + file.delete.delay.ms) + delete.retention.ms

Both assume records keep arriving on the partition (Kafka closes segments only on append);
an idle partition keeps its open segment, which the report says. They leave out the cleaner's
own run time (seconds) and, within 30 s of a broker start, Kafka's first-check delay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final, Literal

Kind = Literal["delete", "compact"]
Holds = Literal["raw", "pseudonymous", "proof"]
"""raw: the raw user id or readable data (counts for completion); pseudonymous: pseudonyms and
shredded ciphertexts only; proof: the erasure's own audit record, kept on purpose."""

NO_LIMIT: Final = 2**63 - 1
"""Kafka's Long.MAX_VALUE: "never" for lag and timestamp bounds."""


@dataclasses.dataclass(frozen=True)
class BrokerTimers:
    """Broker-wide intervals that add to every bound (ms)."""

    retention_check_ms: int
    """``log.retention.check.interval.ms``: how often expired segments are looked for."""
    cleaner_backoff_ms: int
    """``log.cleaner.backoff.ms``: how long an idle cleaner sleeps before looking again."""


@dataclasses.dataclass(frozen=True)
class Place:
    """One place to report: a topic (with its configs as the broker reports them) or a file."""

    name: str
    holds: Holds
    what: str
    """What of the user may remain there, in words."""
    configs: Mapping[str, str] | None = None
    """The topic's configs; None: the topic does not exist (nothing there)."""
    starts: timedelta = timedelta(0)
    """Delay after the erasure before the data is deleted (e.g. an expiring marker)."""


@dataclasses.dataclass(frozen=True)
class Row:
    """A line of ``rights status``: where, what may remain, by when it is gone, from what."""

    place: str
    holds: Holds
    what: str
    gone_by: datetime | None
    """None: no bound (the basis says why)."""
    basis: str


def _ms(configs: Mapping[str, str], name: str) -> int | None:
    raw = configs.get(name)
    if raw is None:
        return None
    value = int(float(raw))
    return None if value < 0 or value >= NO_LIMIT else value


def _skew_ms(configs: Mapping[str, str]) -> int | None:
    if configs.get("message.timestamp.type") == "LogAppendTime":
        return 0
    return _ms(configs, "message.timestamp.after.max.ms")


def _h(ms: int) -> str:
    seconds = ms / 1000
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def delete_bound(configs: Mapping[str, str], timers: BrokerTimers) -> tuple[int | None, str]:
    """Milliseconds after a write by which a delete-policy topic no longer holds it."""
    segment, retention = _ms(configs, "segment.ms"), _ms(configs, "retention.ms")
    skew, delay = _skew_ms(configs), _ms(configs, "file.delete.delay.ms") or 0
    if retention is None:
        return None, "retention.ms unlimited: kept until the topic is deleted"
    if segment is None or skew is None:
        return None, "segment.ms or message.timestamp.after.max.ms unlimited"
    total = segment + retention + 2 * skew + timers.retention_check_ms + delay
    basis = (f"retention.ms {_h(retention)} + segment.ms {_h(segment)} + 2 x timestamp skew "
             f"{_h(skew)} + retention check {_h(timers.retention_check_ms)} + file delay "
             f"{_h(delay)}")  # fmt: skip
    return total, basis


def compact_bound(configs: Mapping[str, str], timers: BrokerTimers) -> tuple[int | None, str]:
    """Milliseconds after a tombstone by which neither it nor the value it deletes remains."""
    lag, keep = _ms(configs, "max.compaction.lag.ms"), _ms(configs, "delete.retention.ms")
    skew, delay = _skew_ms(configs), _ms(configs, "file.delete.delay.ms") or 0
    if lag is None:
        return None, "max.compaction.lag.ms unlimited: compaction waits for the dirty ratio"
    if keep is None or skew is None:
        return None, "delete.retention.ms or message.timestamp.after.max.ms unlimited"
    per_pass = lag + timers.cleaner_backoff_ms + delay
    total = skew + 2 * per_pass + keep
    basis = (f"2 x (max.compaction.lag.ms {_h(lag)} + cleaner back-off "
             f"{_h(timers.cleaner_backoff_ms)} + file delay {_h(delay)}) + delete.retention.ms "
             f"{_h(keep)} + timestamp skew {_h(skew)}; needs appends on the partition")
    return total, basis


def row(place: Place, erased_at: datetime, timers: BrokerTimers) -> Row:
    """The row of one topic: its bound from its own configs (proof: kept on purpose)."""
    if place.holds == "proof":
        return Row(place.name, place.holds, place.what, _s(erased_at + place.starts),
                   f"kept as proof for {_days(place.starts)}")
    if place.configs is None:
        return Row(place.name, place.holds, place.what, erased_at, "topic does not exist")
    policy = place.configs.get("cleanup.policy", "delete").split(",")
    kind: Kind = "compact" if "compact" in policy else "delete"
    ms, basis = (compact_bound if kind == "compact" else delete_bound)(place.configs, timers)
    if ms is not None and "delete" in policy and kind == "compact":
        ms = min(ms, delete_bound(place.configs, timers)[0] or ms)
    if place.starts:
        basis = f"after {_days(place.starts)}: " + basis
    gone = None if ms is None else _s(erased_at + place.starts + timedelta(milliseconds=ms))
    return Row(place.name, place.holds, place.what, gone, basis)


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:g} days"


def _s(at: datetime) -> datetime:
    """Rounded up to the second: a bound shown shorter than computed would be a false promise."""
    return at.replace(microsecond=0) + (timedelta(seconds=1) if at.microsecond else timedelta(0))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The summary line: when no raw id or readable data remains, and when nothing at all."""

    complete_at: datetime | None
    """Raw ids and readable data gone (None: some place has no bound)."""
    all_gone_at: datetime | None
    """Pseudonymous leftovers gone too (the audit record, kept as proof, is not counted)."""


def verdict(rows: Sequence[Row]) -> Verdict:
    """Latest bound of the places holding raw data, and of every place but the proof."""
    return Verdict(_latest([r for r in rows if r.holds == "raw"]),
                   _latest([r for r in rows if r.holds != "proof"]))  # fmt: skip


def _latest(rows: Sequence[Row]) -> datetime | None:
    times = [r.gone_by for r in rows]
    if any(t is None for t in times):
        return None
    return max((t for t in times if t is not None), default=None)
