"""What the collector accepts from browsers, and the limit that keeps it safe.

``navigator.sendBeacon`` cannot set headers and a cross-origin ``fetch`` with an
``Authorization`` header needs a CORS preflight, so the tracker sends its key as ``?key=`` and
its JSON as ``text/plain`` (a CORS "simple" request). A browser key is public (it is in the
page) and such requests can be made by any page, so a request authenticated by a key in the URL
may carry only the events a page could legitimately send: navigation, geolocation and consent.
Rights requests (erasure, access...) need a key in a header, sent from a server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

QUERY_KEY_PARAM: Final = "key"
"""Query parameter holding the API key (browser keys only; headers are preferred)."""

QUERY_KEY_SCHEMAS: Final = frozenset({"navigation/1", "geolocation/1", "consent/1"})
"""Schemas a request authenticated by ``?key=`` may carry."""

JSON_MEDIA_TYPES: Final = frozenset({"application/json", "text/plain"})
"""Accepted ``Content-Type`` media types; the body must be a JSON array either way."""


def forbidden_by_query_key(schemas: Iterable[str]) -> str | None:
    """The first schema of ``schemas`` a ``?key=`` request may not carry, or ``None``."""
    return next((s for s in schemas if s not in QUERY_KEY_SCHEMAS), None)


def query_key_message(schema: str) -> str:
    """Why a ``?key=`` batch holding ``schema`` events is refused, and what to do."""
    return (
        f"{schema} events cannot be sent with the API key in the URL (?key=, meant for browser "
        "trackers): send them from a server with 'Authorization: Bearer <key>'; nothing of this "
        "batch was accepted"
    )
