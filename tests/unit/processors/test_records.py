"""Coarse times of the privacy-safe records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from processors.records import day_of, hour_of

_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_TIMES = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=_OFFSETS
)


@given(_TIMES)
def test_hour_and_day_are_the_utc_hour_and_day(at: datetime) -> None:
    utc = at.astimezone(UTC)
    assert hour_of(at) == utc.strftime("%Y-%m-%dT%H:00:00Z")
    assert day_of(at) == utc.strftime("%Y-%m-%d")


def test_the_last_microsecond_of_an_hour_stays_in_it() -> None:
    at = datetime(2026, 11, 26, 22, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-1)))
    assert hour_of(at) == "2026-11-26T23:00:00Z"
    assert day_of(at) == "2026-11-26"
