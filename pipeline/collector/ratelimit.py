"""Per-API-key token buckets, counted in events (a batch of n events takes n tokens)."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` tokens per second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = now

    def take(self, n: int, now: float) -> float:
        """Take ``n`` tokens if available.

        A request larger than the bucket is charged a full bucket, so any allowed batch size
        can pass once the bucket is full.

        Returns:
            0.0 when admitted, else the seconds until ``n`` tokens will be there.
        """
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        need = min(float(n), self.burst)
        if self._tokens >= need:
            self._tokens -= need
            return 0.0
        return (need - self._tokens) / self.rate


class RateLimiter:
    """One :class:`TokenBucket` per key id (the number of keys is bounded by the key store)."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, key_id: str, n: int) -> float:
        """Charge ``n`` events to ``key_id``; 0.0 when admitted, else seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = TokenBucket(self._rate, self._burst, now)
        return bucket.take(n, now)
