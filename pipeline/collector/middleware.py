"""Per-request observation: request metrics and a privacy-safe access log.

A plain ASGI middleware (cheaper than Starlette's ``BaseHTTPMiddleware``). The access line
holds the method, a fixed route name, the status, the duration and, for batches, the app
name and event counts the handler left in ``scope["collector.log"]``: never the client
address, the query string, a header, a user id or a payload.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.collector.metrics import CollectorMetrics

access_log = logging.getLogger("pipeline.collector.access")

LOG_KEY: Final = "collector.log"
"""Scope key where handlers leave the (id-free) facts of a batch for the access line."""

ROUTES: Final = frozenset(
    {"/v1/events", "/v1/consent", "/healthz", "/metrics", "/openapi.json", "/docs",
     "/v1/tracker.js", "/v1/tracker.mjs"}
)


class ObserveMiddleware:
    """Counts and times every HTTP request and writes one access-log line for it."""

    def __init__(self, app: ASGIApp, metrics: CollectorMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app, recording the response status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._record(scope, status, time.perf_counter() - start)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        # Unknown paths may carry anything (even a user id): they are logged as "other".
        route = scope["path"] if scope["path"] in ROUTES else "other"
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.request_seconds.labels(route).observe(elapsed)
        if not access_log.isEnabledFor(logging.INFO):
            return
        facts = scope.get(LOG_KEY)
        extra = "".join(f" {k}={v}" for k, v in facts.items()) if facts else ""
        access_log.info(
            "%s %s %d %.1fms%s", scope["method"], route, status, elapsed * 1000, extra
        )
