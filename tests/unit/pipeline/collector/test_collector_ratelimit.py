"""Per-key token buckets, counted in events."""

from __future__ import annotations

import pytest

from pipeline.collector.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=100.0, burst=500, clock=clock)
    assert limiter.acquire("k", 300) == 0.0
    assert limiter.acquire("k", 200) == 0.0
    wait = limiter.acquire("k", 100)
    assert wait == pytest.approx(1.0)  # 100 events at 100 events/s
    clock.now += 0.5
    assert limiter.acquire("k", 100) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("k", 100) == 0.0


def test_refused_requests_take_no_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=10.0, burst=10, clock=clock)
    assert limiter.acquire("k", 10) == 0.0
    for _ in range(5):
        assert limiter.acquire("k", 5) > 0
    clock.now += 0.5
    assert limiter.acquire("k", 5) == 0.0


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=10, clock=FakeClock())
    assert limiter.acquire("a", 10) == 0.0
    assert limiter.acquire("a", 1) > 0
    assert limiter.acquire("b", 10) == 0.0


def test_batch_larger_than_the_bucket_passes_when_the_bucket_is_full() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=50.0, burst=100, clock=clock)
    assert limiter.acquire("k", 500) == 0.0  # charged a full bucket
    assert limiter.acquire("k", 500) == pytest.approx(2.0)  # refill 100 at 50/s


def test_bucket_never_exceeds_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1000.0, burst=20, clock=clock)
    limiter.acquire("k", 1)
    clock.now += 3600
    assert limiter.acquire("k", 20) == 0.0
    assert limiter.acquire("k", 1) > 0
