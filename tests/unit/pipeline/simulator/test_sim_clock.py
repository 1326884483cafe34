"""Time helpers: Paris offsets, RFC 3339 strings, default and checked spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.simulator.clock import (
    check_span,
    default_hours,
    default_start,
    iso_day,
    iso_hour,
    paris_offset,
    rfc3339,
)
from pipeline.simulator.exceptions import SimulatorError


@pytest.mark.parametrize(
    "utc, hours",
    [
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), 1),  # switch at 01:00 UTC, last Sunday
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 2),
        (datetime(2026, 10, 25, 0, 59, tzinfo=UTC), 2),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), 1),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), 1),
        (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), 2),
    ],
)
def test_paris_offset_follows_the_eu_rule(utc: datetime, hours: int) -> None:
    assert paris_offset(utc) == timedelta(hours=hours)


def test_rfc3339_local_and_utc_denote_the_same_instant() -> None:
    at = datetime(2026, 7, 1, 22, 30, 5, 123456, tzinfo=UTC)
    assert rfc3339(at, local=False) == "2026-07-01T22:30:05.123Z"
    assert rfc3339(at, local=True) == "2026-07-02T00:30:05.123+02:00"
    parsed = datetime.fromisoformat(rfc3339(at, local=True))
    assert parsed == at.replace(microsecond=123000)


def test_iso_hour_and_day_are_utc() -> None:
    at = datetime.fromisoformat("2026-04-02T01:30:00+02:00")
    assert iso_hour(at) == "2026-04-01T23:00:00Z"
    assert iso_day(at) == "2026-04-01"


def test_default_span() -> None:
    assert default_hours(100) == 3
    assert default_hours(10_000) == 5
    assert default_hours(10**9) == 144
    now = datetime(2026, 4, 1, 10, 42, tzinfo=UTC)
    assert default_start(now, 5) == datetime(2026, 4, 1, 5, 0, tzinfo=UTC)
    check_span(default_start(now, 5), 5, now)


@pytest.mark.parametrize(
    "start, hours",
    [
        (datetime(2026, 4, 1, 8, 0, tzinfo=UTC), 3),  # ends in the future
        (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), 145),  # over 6 days
        (datetime(2026, 3, 30, 8, 0), 3),  # no offset
    ],
)
def test_check_span_refuses_bad_spans(start: datetime, hours: int) -> None:
    with pytest.raises(SimulatorError):
        check_span(start, hours, datetime(2026, 4, 1, 10, 0, tzinfo=UTC))
