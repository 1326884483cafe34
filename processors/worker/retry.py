"""One retry loop for the worker: classify a failure, back off on transient ones.

Pure of I/O but for the awaited callables, so the policy is unit-tested with a fake sleep:
a *transient* failure is retried with doubling delays, a *permanent* one goes to the caller's
dead-letter path (``on_permanent``, awaited outside the loop: its own errors propagate), a
*fatal* one is raised as it is, and retries that run out raise :class:`RetriesExhausted`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from processors.exceptions import RetriesExhausted
from processors.worker.failures import classify

log = logging.getLogger(__name__)

Attempt = Callable[[], Awaitable[None]]
OnPermanent = Callable[[BaseException], Awaitable[None]]
OnRetry = Callable[[BaseException], None]


def _nothing(exc: BaseException) -> None:
    """No extra work before a retry."""


@dataclass(frozen=True)
class Backoff:
    """How many attempts and how long between them (doubling, capped)."""

    attempts: int = 8
    first: float = 0.5
    cap: float = 10.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    async def run(
        self,
        what: str,
        attempt: Attempt,
        on_permanent: OnPermanent,
        on_retry: OnRetry = _nothing,
    ) -> None:
        """Await ``attempt`` until it succeeds, sorting each failure (see the module docstring)."""
        delay = self.first
        for n in range(1, self.attempts + 1):
            try:
                await attempt()
                return
            except Exception as exc:
                kind = classify(exc)
                if kind == "fatal":
                    raise
                if kind == "permanent":
                    failure: BaseException = exc
                    break
                log.warning(
                    "%s failed (%s), retry %d/%d", what, type(exc).__name__, n, self.attempts
                )
                on_retry(exc)
                await self.sleep(delay)
                delay = min(delay * 2, self.cap)
        else:
            raise RetriesExhausted(what, self.attempts)
        try:
            await on_permanent(failure)
        finally:
            # The failure's traceback holds this frame, which holds the failure: a cycle that
            # would keep the failed batch's records until a full collection.
            del failure
