"""HTTP routes of the collector: ``POST /v1/events``, ``POST /v1/consent``, health.

Metrics are not served here: they live on the separate, local metrics port
(:func:`pipeline.collector.metrics.serve_collector_metrics`), not on the public port.

A batch goes: API key in a header or ``?key=`` (401) → content type, JSON or text/plain (415)
→ size (413) → JSON array (400/413) → rate limit (429) → per-event validation → a ``?key=``
request carries only navigation, geolocation and consent events (403) → Kafka, waiting for every
acknowledgement (503 if not) → 202 with the index and reason of each rejected event.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.collector import openapi
from pipeline.collector.auth import ApiKey, presented_key, query_key
from pipeline.collector.browser import (
    JSON_MEDIA_TYPES,
    forbidden_by_query_key,
    query_key_message,
)
from pipeline.collector.exceptions import KafkaUnavailable
from pipeline.collector.intake import (
    CONSENT_SCHEMAS,
    EVENT_SCHEMAS,
    Edge,
    Intake,
    build_intake,
    decode_batch,
)
from pipeline.collector.middleware import LOG_KEY
from pipeline.collector.state import MAX_BODY_BYTES, MAX_EVENTS, RETRY_AFTER_S, CollectorState

router = APIRouter()


class Problem(Exception):
    """An error answer: status, stable code, message saying what to do, optional extras."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(problem: Problem) -> Response:
    """The JSON answer of a :class:`Problem`."""
    body = {"error": problem.error, "message": problem.message, **problem.extra}
    return _json(body, problem.status, problem.headers)


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status, headers, media_type="application/json")


def _state(request: Request) -> CollectorState:
    state: CollectorState = request.app.state.collector
    return state


def _authenticate(state: CollectorState, request: Request) -> tuple[ApiKey, bool]:
    """The caller's key, and whether it came in the URL (``?key=``) rather than a header."""
    presented = presented_key(request.headers)
    in_url = presented is None
    key = state.keys.authenticate(presented or query_key(request.query_params))
    if key is None:
        raise Problem(
            401,
            "unauthorized",
            "missing or wrong API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
            "(browser trackers: '?key=<key>')",
            {"WWW-Authenticate": "Bearer"},
        )
    return key, in_url


def _check_content_type(request: Request) -> None:
    media, _, params = request.headers.get("content-type", "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if media.strip().lower() not in JSON_MEDIA_TYPES or charset not in ("", "utf-8"):
        raise Problem(
            415, "unsupported_media_type",
            "send the batch as a JSON array with 'Content-Type: application/json' "
            "(or text/plain, as sendBeacon does), in UTF-8",
        )


def _too_large() -> Problem:
    return Problem(413, "body_too_large", f"the body is over {MAX_BODY_BYTES} bytes (1 MiB); "
                   "send smaller batches")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> Sequence[msgspec.Raw]:
    try:
        items = decode_batch(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise _not_a_batch(body) from None
    if len(items) > MAX_EVENTS:
        raise Problem(
            413, "too_many_events",
            f"the batch has {len(items)} events, over the limit of {MAX_EVENTS}; split it",
        )
    return items


def _not_a_batch(body: bytes) -> Problem:
    """Why ``body`` is not a batch: not JSON at all (say where), or JSON of another type."""
    if not body.strip():
        return Problem(400, "malformed_json", "the body is empty: send a JSON array of events")
    try:
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        detail = str(exc).removeprefix("JSON is malformed: ")
        return Problem(400, "malformed_json", f"the body is not valid JSON ({detail}): send a "
                       "JSON array of events")
    kind = {dict: "an object", str: "a string", bool: "a boolean"}.get(type(value), "a number")
    if value is None:
        kind = "null"
    return Problem(400, "not_an_array", f"the body is JSON but {kind}, not an array: send a "
                   "JSON array of events, e.g. [{...}]")


def _rate_limit(state: CollectorState, key: ApiKey, count: int) -> None:
    wait = state.limiter.acquire(key.key_id, count)
    if wait > 0:
        raise Problem(
            429, "rate_limited",
            "this API key's event rate is exceeded; retry after the Retry-After delay",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _edge(state: CollectorState, request: Request) -> Edge:
    ip = request.client.host if state.keep_ip and request.client else None
    return Edge(client_ip=ip, gpc=request.headers.get("sec-gpc", "").strip() == "1")


async def _produce(state: CollectorState, intake: Intake) -> None:
    try:
        elapsed = await state.producer.produce(intake.records)
    except KafkaUnavailable as exc:
        state.metrics.produce_failures.inc()
        raise Problem(
            503, "kafka_unavailable",
            f"{exc}; nothing is confirmed: retry the whole batch later "
            "(the pipeline de-duplicates by event_id)",
            {"Retry-After": str(RETRY_AFTER_S)},
        ) from None
    state.metrics.produce_seconds.observe(elapsed)
    for schema, count in Counter(r.schema for r in intake.records).items():
        state.metrics.accepted.labels(schema).inc(count)


def _rejections(intake: Intake) -> list[dict[str, Any]]:
    return [{"index": r.index, "reason": r.reason, "field": r.field} for r in intake.rejected]


async def _ingest(request: Request, allowed: frozenset[str]) -> Response:
    state = _state(request)
    key, in_url = _authenticate(state, request)
    _check_content_type(request)
    items = _parse(await _read_body(request))
    _rate_limit(state, key, len(items))
    intake = build_intake(items, allowed, state.topics_by_schema, _edge(state, request))
    if in_url and (schema := forbidden_by_query_key(r.schema for r in intake.records)):
        raise Problem(403, "key_in_url_not_allowed", query_key_message(schema))
    accepted, rejected = len(intake.records), _rejections(intake)
    request.scope[LOG_KEY] = {
        "app": key.app, "events": len(items), "accepted": accepted, "rejected": len(rejected)
    }
    for rejection in intake.rejected:
        state.metrics.rejected.labels(rejection.label).inc()
    if not intake.records and rejected:
        raise Problem(
            400, "no_valid_event", "no event of the batch is valid; see 'rejected' and fix them",
            extra={"accepted": 0, "rejected": rejected},
        )
    await _produce(state, intake)
    return _json({"accepted": accepted, "rejected": rejected}, 202)


@router.post(
    "/v1/events",
    status_code=202,
    summary="Send a batch of navigation/1 and geolocation/1 events",
    responses=openapi.batch_responses(),
    openapi_extra={**openapi.request_body(openapi.EVENTS_BODY), "security": openapi.SECURITY},
)
async def post_events(request: Request) -> Response:
    """Validate the batch, produce the valid events keyed by user_id, report the rejected ones.

    Answers 202 only once Kafka has acknowledged every accepted event.
    """
    return await _ingest(request, EVENT_SCHEMAS)


@router.post(
    "/v1/consent",
    status_code=202,
    summary="Send a batch of consent/1 and rights/1 events",
    responses=openapi.batch_responses(),
    openapi_extra={**openapi.request_body(openapi.CONSENT_BODY), "security": openapi.SECURITY},
)
async def post_consent(request: Request) -> Response:
    """Like ``/v1/events``; a ``Sec-GPC: 1`` header is recorded as ``gpc: true`` on consent/1."""
    return await _ingest(request, CONSENT_SCHEMAS)


@router.get("/healthz", summary="Broker reachable?", responses=openapi.health_responses())
async def healthz(request: Request) -> Response:
    """200 when the producer is connected and the broker answers, else 503."""
    state = _state(request)
    if state.producer.ready and await state.health.reachable():
        return _json({"status": "ok"}, 200)
    return _json({"status": "unavailable"}, 503, {"Retry-After": str(RETRY_AFTER_S)})
