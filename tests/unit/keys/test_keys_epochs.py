"""Epoch ids, bounds and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from keys.epochs import epoch_bounds, epoch_of, epochs_covering, is_expired, next_epoch
from keys.exceptions import InvalidEpoch


def test_epoch_ids_for_each_kind() -> None:
    at = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)
    assert epoch_of("month", at) == "2026-11"
    assert epoch_of("week", at) == "2026-W48"
    assert epoch_of("day", at) == "2026-11-26"


def test_epoch_uses_utc_not_the_local_offset() -> None:
    paris = timezone(timedelta(hours=1))
    assert epoch_of("day", datetime(2026, 12, 1, 0, 30, tzinfo=paris)) == "2026-11-30"
    assert epoch_of("month", datetime(2026, 12, 1, 0, 30, tzinfo=paris)) == "2026-11"


def test_iso_week_year_differs_from_calendar_year() -> None:
    assert epoch_of("week", datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert next_epoch("week", "2026-W53") == "2027-W01"


def test_bounds_are_half_open_and_contain_their_times() -> None:
    for kind, epoch in (("month", "2026-12"), ("week", "2026-W48"), ("day", "2026-02-28")):
        start, end = epoch_bounds(kind, epoch)
        assert epoch_of(kind, start) == epoch
        assert epoch_of(kind, end - timedelta(microseconds=1)) == epoch
        assert epoch_of(kind, end) == next_epoch(kind, epoch)
    assert epoch_bounds("month", "2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)


def test_epochs_covering_lists_every_epoch_in_order() -> None:
    first = datetime(2026, 11, 19, tzinfo=UTC)
    last = datetime(2026, 12, 2, tzinfo=UTC)
    assert epochs_covering("month", first, last) == ["2026-11", "2026-12"]
    assert epochs_covering("week", first, last) == ["2026-W47", "2026-W48", "2026-W49"]
    assert len(epochs_covering("day", first, last)) == 14
    with pytest.raises(InvalidEpoch):
        epochs_covering("day", last, first)


def test_an_epoch_expires_when_its_start_reaches_the_retention() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert not is_expired("month", "2026-01", 30, start + timedelta(days=30, seconds=-1))
    assert is_expired("month", "2026-01", 30, start + timedelta(days=30))


@pytest.mark.parametrize(
    ("kind", "epoch"),
    [("month", "2026-13"), ("month", "2026-1"), ("week", "2026-W54"), ("week", "2026-48"),
     ("day", "2026-02-30"), ("day", "2026-11"), ("year", "2026")],
)
def test_malformed_epochs_are_refused(kind: str, epoch: str) -> None:
    with pytest.raises(InvalidEpoch):
        epoch_bounds(kind, epoch)


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidEpoch, match="UTC offset"):
        epoch_of("day", datetime(2026, 11, 26))
