"""Prometheus metrics of one collector app (own registry, so tests can build many apps).

They are served on the local metrics port (``PRIVACY_PIPELINE_COLLECTOR_METRICS_PORT``), not
on the public port: request counts per route and status tell an outsider how the service is
used and whether its keys work.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from pipeline.observe.server import MetricsServer, serve_metrics

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class CollectorMetrics:
    """Requests, events accepted per schema, events rejected per reason, produce latency.

    Label values are small fixed sets (routes, status codes, schema names, reason
    categories): never a user id, an ip or a client-supplied string.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "collector_requests",
            "HTTP requests by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "collector_request_seconds",
            "Request handling time by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.accepted = Counter(
            "collector_events_accepted",
            "Events acknowledged by Kafka, by schema.",
            ["schema"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "collector_events_rejected",
            "Events rejected, by reason category.",
            ["reason"],
            registry=self.registry,
        )
        self.produce_seconds = Histogram(
            "collector_produce_seconds",
            "Time from the first send of a batch to Kafka's last acknowledgement.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.produce_failures = Counter(
            "collector_produce_failures",
            "Batches answered 503 because Kafka did not acknowledge them.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def serve_collector_metrics(
    metrics: CollectorMetrics, ready: Callable[[], bool], host: str, port: int
) -> MetricsServer | None:
    """Serve ``/metrics`` and ``/healthz`` (200 once the producer is connected) on ``port``.

    Returns None when ``port`` is 0 or in use (logged).
    """

    def health() -> tuple[bool, str]:
        return (True, "ok") if ready() else (False, "kafka_unavailable")

    return serve_metrics(metrics.registry, health, host, port, "collector")
