"""A small HTTP server for ``/metrics`` and ``/healthz`` on a local port, in a daemon thread.

Serves nothing else (404), answers only GET/HEAD, reads no request body: the port is for an
operator's scraper, and nothing a client sends reaches the process's state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

#: Health check: (healthy, one-word reason).
Health = Callable[[], tuple[bool, str]]


class Liveness:
    """Whether a process's Kafka loop is alive: it went round recently, its last try
    succeeded and, when ``kafka_max_s`` is set, the broker answered within that long."""

    def __init__(
        self,
        max_silence_s: float,
        clock: Callable[[], float] = time.monotonic,
        kafka_max_s: float | None = None,
    ) -> None:
        self._max = max_silence_s
        self._kafka_max = kafka_max_s
        self._clock = clock
        self._last: float | None = None
        self._contact: float | None = None
        self._failing: str | None = None

    def beat(self) -> None:
        """The loop went round (a failure stands until the broker answers again)."""
        self._last = self._clock()

    def contact(self) -> None:
        """The broker answered a request of the loop."""
        self._contact = self._clock()
        self._failing = None

    def fail(self, reason: str) -> None:
        """The loop's Kafka work failed (it retries); unhealthy until the next beat."""
        self._failing = reason

    def check(self) -> tuple[bool, str]:
        """(healthy, reason): ``starting``, ``stalled``, the failure, ``kafka_silent`` or ``ok``."""
        now = self._clock()
        if self._last is None or (self._kafka_max is not None and self._contact is None):
            return False, "starting"
        if self._failing is not None:
            return False, self._failing
        if now - self._last > self._max:
            return False, "stalled"
        if self._kafka_max is not None and self._contact is not None \
                and now - self._contact > self._kafka_max:
            return False, "kafka_silent"
        return True, "ok"


def _handler(registry: CollectorRegistry, health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5.0  # a client that opens a connection and sends nothing is dropped
        def do_GET(self) -> None:  # http.server calls it by this name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                ok, reason = health()
                body = f'{{"status": "{reason}"}}\n'.encode()
                self._answer(200 if ok else 503, body, "application/json")
            else:
                self._answer(404, b'{"error": "not_found"}\n', "application/json")

        def do_HEAD(self) -> None:
            self.do_GET()

        def _answer(self, status: int, body: bytes, media: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # no access log: scrapers poll every few seconds

    return Handler


class MetricsServer:
    """``/metrics`` and ``/healthz`` of one process on ``host:port``."""

    def __init__(self, registry: CollectorRegistry, health: Health, host: str, port: int) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(registry, health))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one picked for port 0)."""
        return int(self._httpd.server_address[1])

    def start(self) -> MetricsServer:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()


def serve_metrics(
    registry: CollectorRegistry, health: Health, host: str, port: int, what: str
) -> MetricsServer | None:
    """Start the endpoints of ``what`` (e.g. ``worker 1``) on ``host:port``; None when off.

    A port in use is logged and the process goes on without metrics: observability must not
    take the pipeline down. The log line names the setting to change.
    """
    if not port:
        return None
    try:
        server = MetricsServer(registry, health, host, port).start()
    except OSError as exc:
        log.warning("%s: metrics endpoint not started on %s:%d (%s); set another port with "
                    "PRIVACY_PIPELINE_*_METRICS_PORT", what, host, port, exc.strerror or exc)
        return None
    log.info("%s: metrics on http://%s:%d/metrics, health on /healthz", what, host, port)
    return server
