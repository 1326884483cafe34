"""The collector's FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from pipeline import kafka
from pipeline.collector import handlers, openapi, tracker
from pipeline.collector.auth import KeyStore
from pipeline.collector.client_ip import ClientAddress, parse_networks
from pipeline.collector.intake import CollectorTopics
from pipeline.collector.metrics import CollectorMetrics
from pipeline.collector.middleware import ObserveMiddleware
from pipeline.collector.producer import EventProducer
from pipeline.collector.ratelimit import RateLimiter
from pipeline.collector.routes import router
from pipeline.collector.state import BrokerHealth, CollectorState
from pipeline.collector.subject import SubjectVerifier
from pipeline.settings import Settings
from pipeline.topics import TopicNames

# Short linger: every request waits for its acks, so a long one adds latency; 10 ms lets the
# batches of concurrent requests share produce requests (2 ms measured slower, 20 ms no faster).
# Large batches: kafka-python's cost per record drops by a third when it opens (and wakes its
# sender for) fewer batches.
_LINGER_MS: Final = 10
_BATCH_BYTES: Final = 256 * 1024
_BOOTSTRAP_BOUND_S: Final = 5.0
_PROBE_TIMEOUT_S: Final = 2.0
DOCS_ASSETS: Final = "/docs/assets"

log = logging.getLogger(__name__)

DESCRIPTION: Final = (
    "Apps send batches of events (JSON arrays, at most 500 events or 1 MiB) with an API key. "
    "202 means Kafka acknowledged every accepted event; rejected events are listed with their "
    "index and reason. On 503 or 429, retry the whole batch after Retry-After. Keys are "
    "scoped: `events` (navigation, geolocation), `consent` (consent/1), `rights` (rights/1, the "
    "DPO's back office); 403 when a batch needs a scope its key lacks."
)


def policy_keeps_ip(settings: Settings) -> bool:
    """Whether some purpose of the policy keeps the ``ip`` field (treatment other than drop)."""
    from pipeline.policy import load_policy  # policy loading is only needed at start-up

    policy = load_policy(settings.policy)
    return any(p.fields.get("ip", "drop") != "drop" for p in policy.purposes.values())


def default_producer(settings: Settings) -> EventProducer:
    """The :class:`EventProducer` of :func:`pipeline.kafka.make_producer` (idempotent)."""
    timeout_ms = int(settings.collector_produce_timeout_s * 1000)

    def factory() -> Any:
        return kafka.make_producer(
            settings,
            client_id="privacy-pipeline-collector",
            linger_ms=_LINGER_MS,
            batch_size=_BATCH_BYTES,
            max_block_ms=timeout_ms,
            # Give up on records when the request gives up on them (503), so a batch the
            # client was told to retry is not also written late by the producer's retries.
            delivery_timeout_ms=timeout_ms,
            request_timeout_ms=max(1000, timeout_ms // 2),
            bootstrap_timeout_ms=int(min(settings.broker_wait_s, _BOOTSTRAP_BOUND_S) * 1000),
        )

    return EventProducer(factory, settings.collector_produce_timeout_s)


def _cors_origins(settings: Settings) -> list[str]:
    return [o.strip() for o in settings.collector_cors.split(",") if o.strip()]


def _install_openapi(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = openapi.merge_components(doc)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def create_app(
    settings: Settings,
    *,
    producer: EventProducer | None = None,
    topics: CollectorTopics | None = None,
    keys: KeyStore | None = None,
    keep_ip: bool | None = None,
    probe: Callable[[], bool] | None = None,
) -> FastAPI:
    """Build the collector app; the producer connects when the app starts (lifespan).

    Args:
        settings: bootstrap servers, keys, rate, CORS origins, produce timeout, policy.
        producer: the Kafka producer; default :func:`default_producer`. The app closes it.
        topics: topic names; default the contract's under ``settings.topic_prefix``.
        keys: API keys; default read from ``settings`` (variable and file).
        keep_ip: attach the client ip to events; default: whether the policy keeps ``ip``.
        probe: blocking broker check for ``/healthz``; default :func:`pipeline.kafka.probe`.

    Raises:
        KeyConfigError: the configured keys cannot be read.
        SubjectConfigError: the subject-token JWKS, issuer or audience is unusable.
        ConfigError: the policy file is invalid.
    """
    event_producer = producer or default_producer(settings)
    metrics = CollectorMetrics()
    state = CollectorState(
        keys=keys if keys is not None else KeyStore.from_settings(settings),
        limiter=RateLimiter(settings.collector_rate, settings.collector_burst),
        producer=event_producer,
        metrics=metrics,
        topics=topics or CollectorTopics.of(TopicNames.from_settings(settings)),
        keep_ip=policy_keeps_ip(settings) if keep_ip is None else keep_ip,
        health=BrokerHealth(probe or (lambda: kafka.probe(settings, _PROBE_TIMEOUT_S))),
        client_address=ClientAddress(parse_networks(settings.collector_trusted_proxies)),
        subject=SubjectVerifier.from_settings(settings),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if state.subject is None:
            log.warning(
                "consent and rights are not bound to an authenticated subject: any key with "
                "the consent scope can answer for any user_id (set %s)",
                settings.env_names()["collector_subject_jwks"],
            )
        event_producer.start()
        yield
        await asyncio.to_thread(event_producer.close)

    # /docs from Swagger UI assets the fastapi-offline package ships (no CDN: works offline).
    app = FastAPIOffline(
        title="privacy-pipeline collector", version="1", description=DESCRIPTION,
        lifespan=lifespan, redoc_url=None, static_url=DOCS_ASSETS,
    )
    app.state.collector = state
    app.include_router(router)

    app.include_router(tracker.router)
    handlers.install(app)
    origins = _cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Subject-Token"],
            expose_headers=["Retry-After"], max_age=600,
        )
    app.add_middleware(ObserveMiddleware, metrics=metrics)
    _install_openapi(app)
    return app
