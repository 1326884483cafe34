"""HTTP routes of the collector: ``POST /v1/events``, ``POST /v1/consent``, health.

A batch goes: API key in a header or ``?key=`` (401) → scope of the endpoint (403) → content
type, JSON or text/plain (415) → size (413) → JSON array (400/413) → rate limit (429; every
request costs at least one token, refused ones included) → per-event validation, scope (403 for
the whole batch: nothing produced) and subject token (per-event rejection) → a ``?key=`` request
carries only navigation, geolocation and consent events (403) → Kafka, waiting for every
acknowledgement (503 if not) → 202 with the index and reason of each rejected event.

Metrics are not served here: they live on the separate, local metrics port
(:func:`pipeline.collector.metrics.serve_collector_metrics`), not on the public port.
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
from pipeline.collector.auth import SCHEMA_SCOPES, ApiKey, presented_key, query_key
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
from pipeline.collector.subject import HEADER as SUBJECT_HEADER
from pipeline.collector.subject import SubjectCheck, check_request

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


def _check_endpoint_scope(key: ApiKey, allowed: frozenset[str]) -> None:
    needed = {SCHEMA_SCOPES[schema] for schema in allowed}
    if not needed & key.scopes:
        raise Problem(
            403, "forbidden_scope",
            f"this API key has no {' or '.join(sorted(needed))} scope; nothing was accepted",
        )


def _forbidden(forbidden: dict[str, list[int]]) -> Problem:
    scopes = " and ".join(f"'{scope}'" for scope in sorted(forbidden))
    indices = sorted(i for found in forbidden.values() for i in found)
    return Problem(
        403, "forbidden_scope",
        f"this API key lacks the {scopes} scope needed by events {indices[:20]}; nothing of "
        "the batch was accepted (rights/1 needs a 'rights' key, the DPO's back office's)",
        extra={"accepted": 0, "forbidden": indices},
    )


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
    except RecursionError:
        raise _too_deep() from None
    if len(items) > MAX_EVENTS:
        raise Problem(
            413, "too_many_events",
            f"the batch has {len(items)} events, over the limit of {MAX_EVENTS}; split it",
        )
    return items


def _too_deep() -> Problem:
    # No event nests more than two levels; a parser refusal is the client's error.
    return Problem(400, "too_deep", "the body is nested too deeply; no event nests more than a "
                   "few levels")


def _not_a_batch(body: bytes) -> Problem:
    """Why ``body`` is not a batch: not JSON at all (say where), or JSON of another type."""
    if not body.strip():
        return Problem(400, "malformed_json", "the body is empty: send a JSON array of events")
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        return _too_deep()
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
    wait = state.limiter.acquire(key.key_id, max(1, count))  # an empty batch is a request too
    if wait > 0:
        raise Problem(
            429, "rate_limited",
            "this API key's event rate is exceeded; retry after the Retry-After delay",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _client_ip(state: CollectorState, request: Request) -> str | None:
    if not state.keep_ip or request.client is None:
        return None
    forwarded = request.headers.getlist("x-forwarded-for")
    return state.client_address.resolve(request.client.host, forwarded)


def _subject(
    state: CollectorState, request: Request, allowed: frozenset[str]
) -> SubjectCheck | None:
    if state.subject is None or not allowed & CONSENT_SCHEMAS:
        return None
    return check_request(state.subject, request.headers.get(SUBJECT_HEADER))


def _edge(state: CollectorState, request: Request, key: ApiKey, allowed: frozenset[str]) -> Edge:
    return Edge(
        client_ip=_client_ip(state, request),
        gpc=request.headers.get("sec-gpc", "").strip() == "1",
        scopes=key.scopes,
        subject=_subject(state, request, allowed),
    )


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


async def _admit(
    state: CollectorState, request: Request, key: ApiKey, allowed: frozenset[str]
) -> Sequence[msgspec.Raw]:
    """The batch's items, rate limited; a request refused on the way still costs a token."""
    try:
        _check_endpoint_scope(key, allowed)
        _check_content_type(request)
        items = _parse(await _read_body(request))
    except Problem:
        _rate_limit(state, key, 1)
        raise
    _rate_limit(state, key, len(items))
    return items


def _schemas(intake: Intake) -> list[str]:
    """Schemas of the batch's valid events, those refused for scope included (a URL key may
    never carry rights/1, whatever its scopes: the more specific refusal is given)."""
    refused = {scope for scope in intake.forbidden}
    return [r.schema for r in intake.records] + [
        schema for schema, scope in SCHEMA_SCOPES.items() if scope in refused]


async def _ingest(request: Request, allowed: frozenset[str]) -> Response:
    state = _state(request)
    key, in_url = _authenticate(state, request)
    items = await _admit(state, request, key, allowed)
    edge = _edge(state, request, key, allowed)
    intake = build_intake(items, allowed, state.topics_by_schema, edge)
    if in_url and (schema := forbidden_by_query_key(_schemas(intake))):
        raise Problem(403, "key_in_url_not_allowed", query_key_message(schema))
    accepted, rejected = len(intake.records), _rejections(intake)
    request.scope[LOG_KEY] = {
        "app": key.app, "events": len(items), "accepted": accepted, "rejected": len(rejected)
    }
    if intake.forbidden:
        request.scope[LOG_KEY]["accepted"] = 0
        raise _forbidden(intake.forbidden)
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
    openapi_extra={
        **openapi.request_body(openapi.CONSENT_BODY),
        "security": openapi.SECURITY,
        "parameters": [openapi.SUBJECT_TOKEN],
    },
)
async def post_consent(request: Request) -> Response:
    """Like ``/v1/events``; a ``Sec-GPC: 1`` header is recorded as ``gpc: true`` on consent/1.

    consent/1 needs the ``consent`` scope, rights/1 the ``rights`` scope; with subject binding
    on, each event needs an ``X-Subject-Token`` whose ``sub`` is its ``user_id``.
    """
    return await _ingest(request, CONSENT_SCHEMAS)


@router.get("/healthz", summary="Broker reachable?", responses=openapi.health_responses())
async def healthz(request: Request) -> Response:
    """200 when the producer is connected and the broker answers, else 503."""
    state = _state(request)
    if state.producer.ready and await state.health.reachable():
        return _json({"status": "ok"}, 200)
    return _json({"status": "unavailable"}, 503, {"Retry-After": str(RETRY_AFTER_S)})
