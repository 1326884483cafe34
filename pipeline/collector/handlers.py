"""Every error answer of the collector has one shape: ``{"error": code, "message": text}``.

Errors raised by the routes are :class:`~pipeline.collector.routes.Problem`; these handlers give
the framework's own answers (unknown path 404, wrong method 405, invalid parameter 422,
unexpected failure 500) the same shape instead of FastAPI's ``{"detail": ...}``. Messages never
echo the request (a path or parameter may hold anything, even a user id).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from pipeline.collector.routes import Problem, problem_response

log = logging.getLogger(__name__)

_MESSAGES: Final = {
    404: ("not_found", "no such endpoint; the API is described at /docs and /openapi.json"),
    405: ("method_not_allowed", "this endpoint does not accept this method; see the Allow "
          "header and /docs"),
}


def http_problem(status: int, headers: dict[str, str] | None = None) -> Problem:
    """The :class:`Problem` of a framework HTTP error of ``status``."""
    error, message = _MESSAGES.get(status, ("", ""))
    if not error:
        phrase = HTTPStatus(status).phrase
        error, message = phrase.lower().replace(" ", "_").replace("-", "_"), phrase
    return Problem(status, error, message, headers)


async def on_problem(_request: Request, exc: Exception) -> Response:
    """A route's :class:`Problem`."""
    assert isinstance(exc, Problem)  # noqa: S101 (registered for Problem only)
    return problem_response(exc)


async def on_http_error(_request: Request, exc: Exception) -> Response:
    """404, 405 and other framework HTTP errors (headers such as ``Allow`` are kept)."""
    assert isinstance(exc, HTTPException)  # noqa: S101 (registered for HTTPException only)
    return problem_response(http_problem(exc.status_code, dict(exc.headers or {})))


async def on_invalid_request(_request: Request, exc: Exception) -> Response:
    """422: a query or path parameter of the wrong form (names the parameter, not its value)."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 (registered for it only)
    fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
    message = f"invalid request parameter: {', '.join(fields) or 'unknown'}; see /docs"
    return problem_response(Problem(422, "invalid_request", message))


async def on_unexpected(_request: Request, _exc: Exception) -> Response:
    """500 for a bug: the traceback goes to the (redacted) log, the client gets the shape."""
    return problem_response(Problem(
        500, "internal_error", "the collector failed unexpectedly; nothing of this request is "
        "confirmed: retry later (the pipeline de-duplicates by event_id)",
    ))


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(Exception, on_unexpected)
