"""Epoch arithmetic: which epoch contains a time, where an epoch starts and ends.

Epoch ids are strings: ``"2026-11"`` (month), ``"2026-W48"`` (ISO week), ``"2026-11-26"``
(day). All bounds are UTC, half-open ``[start, end)``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from keys.exceptions import InvalidEpoch

EPOCH_KINDS = ("month", "week", "day")

_PATTERNS = {
    "month": re.compile(r"(\d{4})-(\d{2})"),
    "week": re.compile(r"(\d{4})-W(\d{2})"),
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
}


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidEpoch("time has no UTC offset: pass a timezone-aware datetime")
    return at.astimezone(UTC)


def epoch_of(kind: str, at: datetime) -> str:
    """The id of the epoch of ``kind`` that contains ``at``.

    Raises:
        InvalidEpoch: unknown kind or naive ``at``.
    """
    at = _utc(at)
    if kind == "month":
        return f"{at.year:04d}-{at.month:02d}"
    if kind == "week":
        iso = at.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    if kind == "day":
        return at.date().isoformat()
    raise InvalidEpoch(f"epoch kind {kind!r} is not one of {', '.join(EPOCH_KINDS)}")


def _start_date(kind: str, epoch: str) -> date:
    pattern = _PATTERNS.get(kind)
    match = pattern.fullmatch(epoch) if pattern else None
    if match is None:
        raise InvalidEpoch(
            f"epoch {epoch!r} is not a valid {kind} epoch id (e.g. {_example(kind)})"
        )
    parts = [int(g) for g in match.groups()]
    try:
        if kind == "month":
            return date(parts[0], parts[1], 1)
        if kind == "week":
            return date.fromisocalendar(parts[0], parts[1], 1)
        return date(parts[0], parts[1], parts[2])
    except ValueError:
        raise InvalidEpoch(f"epoch {epoch!r} does not exist (e.g. {_example(kind)})") from None


def _example(kind: str) -> str:
    return {"month": "2026-11", "week": "2026-W48", "day": "2026-11-26"}.get(kind, "2026-11")


def epoch_bounds(kind: str, epoch: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of an epoch, both UTC.

    Raises:
        InvalidEpoch: the id does not parse for ``kind``.
    """
    first = _start_date(kind, epoch)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    if kind == "month":
        year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
        return start, datetime(year, month, 1, tzinfo=UTC)
    return start, start + timedelta(days=7 if kind == "week" else 1)


def epoch_start(kind: str, epoch: str) -> datetime:
    """Start (UTC) of an epoch; epochs of one kind sort by it."""
    return epoch_bounds(kind, epoch)[0]


def next_epoch(kind: str, epoch: str) -> str:
    """The epoch right after ``epoch``."""
    return epoch_of(kind, epoch_bounds(kind, epoch)[1])


def epochs_covering(kind: str, first: datetime, last: datetime) -> list[str]:
    """Every epoch that intersects ``[first, last]``, oldest first.

    Raises:
        InvalidEpoch: ``first`` is after ``last``.
    """
    if _utc(first) > _utc(last):
        raise InvalidEpoch("epoch range is empty: its first time is after its last")
    current = epoch_of(kind, first)
    end = epoch_of(kind, last)
    found = [current]
    while current != end:
        current = next_epoch(kind, current)
        found.append(current)
    return found


def is_expired(kind: str, epoch: str, retention_days: int, now: datetime) -> bool:
    """Whether an epoch's keys must be destroyed at ``now``.

    An epoch expires once its *start* is ``retention_days`` old: from then on its oldest
    datum has reached the retention limit, so no datum outlives the published maximum.
    """
    return epoch_start(kind, epoch) + timedelta(days=retention_days) <= _utc(now)
