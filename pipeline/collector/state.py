"""What one collector app holds at run time, shared by its request handlers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Final

from pipeline.collector.auth import KeyStore
from pipeline.collector.client_ip import ClientAddress
from pipeline.collector.intake import CollectorTopics
from pipeline.collector.metrics import CollectorMetrics
from pipeline.collector.producer import EventProducer
from pipeline.collector.ratelimit import RateLimiter
from pipeline.collector.subject import SubjectVerifier

MAX_EVENTS: Final = 500
"""Most events in one batch."""
MAX_BODY_BYTES: Final = 1024 * 1024
"""Largest batch body (1 MiB)."""
RETRY_AFTER_S: Final = 5
"""Retry-After of a 503 (Kafka unavailable), seconds."""


class BrokerHealth:
    """Runs a blocking broker probe off the event loop and caches its answer briefly."""

    def __init__(self, probe: Callable[[], bool], ttl_s: float = 2.0) -> None:
        self._probe = probe
        self._ttl_s = ttl_s
        self._stamp = float("-inf")
        self._ok = False
        self._lock = asyncio.Lock()

    async def reachable(self) -> bool:
        """Whether the broker answered a metadata request within the last ``ttl_s`` seconds."""
        async with self._lock:  # one probe at a time, however many health checks arrive
            if time.monotonic() - self._stamp > self._ttl_s:
                self._ok = await asyncio.to_thread(self._probe)
                self._stamp = time.monotonic()
            return self._ok


@dataclasses.dataclass
class CollectorState:
    """Dependencies of the handlers (``app.state.collector``)."""

    keys: KeyStore
    limiter: RateLimiter
    producer: EventProducer
    metrics: CollectorMetrics
    topics: CollectorTopics
    keep_ip: bool
    health: BrokerHealth
    client_address: ClientAddress = dataclasses.field(default_factory=ClientAddress)
    subject: SubjectVerifier | None = None
    """Verifies ``X-Subject-Token`` for consent/rights; ``None``: subject binding is off."""
    topics_by_schema: dict[str, str] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.topics_by_schema = self.topics.by_schema()
