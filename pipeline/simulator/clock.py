"""Time helpers: simulated span, French local offsets, RFC 3339 strings.

Mobile apps stamp events in the phone's local time (Europe/Paris, with its offset), the web app
in UTC; the pipeline must convert both to UTC hours. The EU summer-time rule is computed here
rather than read from the system tz database so that output bytes never depend on the host.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from pipeline.simulator.exceptions import SimulatorError

MAX_HOURS = 144  # 6 days: nothing older than the 7-day lateness bound
MIN_HOURS = 3


def default_hours(events: int) -> int:
    """Simulated span for ``events`` messages: about 2,000 an hour, 3 hours to 6 days."""
    return max(MIN_HOURS, min(MAX_HOURS, events // 2000))


def floor_hour(at: datetime) -> datetime:
    """``at`` in UTC, rounded down to the hour."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def default_start(now: datetime, hours: int) -> datetime:
    """Start of a span of ``hours`` that ends at ``now`` rounded down to the hour."""
    return floor_hour(now) - timedelta(hours=hours)


def check_span(start: datetime, hours: int, now: datetime) -> None:
    """Refuse spans that would produce events in the future or a span out of bounds.

    Raises:
        SimulatorError: the span ends after ``now`` or its length is outside 1..144 hours.
    """
    if start.tzinfo is None:
        raise SimulatorError("--start needs a UTC offset, e.g. 2026-04-01T08:00:00+00:00")
    if not 1 <= hours <= MAX_HOURS:
        raise SimulatorError(f"--hours must be between 1 and {MAX_HOURS}, got {hours}")
    if start + timedelta(hours=hours) > now:
        raise SimulatorError(
            "the simulated span would end in the future: use an earlier --start or fewer --hours"
        )


@lru_cache(maxsize=64)
def _last_sunday(year: int, month: int) -> datetime:
    # Last day of the month, then back to Sunday (weekday 6).
    first_next = datetime(year + (month == 12), month % 12 + 1, 1, 1, tzinfo=UTC)
    last = first_next - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def paris_offset(at: datetime) -> timedelta:
    """UTC offset of Europe/Paris at ``at`` (EU rule: summer time between the last Sundays of
    March and October, 01:00 UTC)."""
    utc = at.astimezone(UTC)
    summer = _last_sunday(utc.year, 3) <= utc < _last_sunday(utc.year, 10)
    return timedelta(hours=2 if summer else 1)


def paris_hour(at: datetime) -> int:
    """Local hour of day in Paris (drives the daily activity curve)."""
    return (at.astimezone(UTC) + paris_offset(at)).hour


def rfc3339(at: datetime, local: bool) -> str:
    """``at`` as RFC 3339 with milliseconds: Paris offset if ``local`` else ``Z``."""
    utc = at.astimezone(UTC)
    if not local:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    offset = paris_offset(utc)
    wall = utc + offset
    sign_hours = int(offset.total_seconds() // 3600)
    return (
        wall.strftime("%Y-%m-%dT%H:%M:%S.") + f"{wall.microsecond // 1000:03d}+{sign_hours:02d}:00"
    )


def to_ms(at: datetime) -> int:
    """Epoch milliseconds (Kafka record timestamps)."""
    return int(at.timestamp() * 1000)


def iso_hour(at: datetime) -> str:
    """The UTC hour of ``at`` as analysts' tables carry it, e.g. ``2026-04-01T08:00:00Z``."""
    return floor_hour(at).strftime("%Y-%m-%dT%H:00:00Z")


def iso_day(at: datetime) -> str:
    """The UTC day of ``at``, e.g. ``2026-04-01``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d")
