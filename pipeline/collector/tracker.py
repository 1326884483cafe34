"""``GET /v1/tracker.js`` and ``/v1/tracker.mjs``: the browser tracker, cacheable and versioned.

The minified file is built from ``static/tracker.js`` by ``scripts/build-tracker.sh`` and
committed; its first line names the tracker version and the sha256 of the source it was built
from (a unit test fails when the two drift). The ES module variant is the same code followed
by ``export`` statements, so a page may use either a script tag or ``import``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from importlib import resources
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter()

_HEADER: Final = re.compile(rb"^/\*! privacy-pipeline tracker (\S+) src-sha256:([0-9a-f]{64}) \*/")
_EXPORTS: Final = ("init", "identify", "page", "geolocation", "consent", "flush", "version")
_MODULE_TAIL: Final = (
    "const privacyPipeline = window.privacyPipeline;\n"
    f"export const {{ {', '.join(_EXPORTS)} }} = privacyPipeline;\n"
    "export default privacyPipeline;\n"
).encode()
LATEST_MAX_AGE_S: Final = 3600
"""Cache lifetime of an unversioned URL: a new release reaches pages within an hour."""
VERSIONED_CACHE: Final = "public, max-age=31536000, immutable"


@dataclasses.dataclass(frozen=True)
class Asset:
    """One served variant: its bytes and strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Asset:
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def minified() -> bytes:
    """The committed minified tracker (``static/tracker.min.js``)."""
    return (resources.files("pipeline.collector") / "static" / "tracker.min.js").read_bytes()


def source() -> bytes:
    """The tracker's readable source (``static/tracker.js``)."""
    return (resources.files("pipeline.collector") / "static" / "tracker.js").read_bytes()


def build_header(body: bytes) -> tuple[str, str]:
    """The ``(version, source sha256)`` named on the first line of a built tracker."""
    match = _HEADER.match(body)
    if match is None:
        raise ValueError("tracker.min.js has no build header; run scripts/build-tracker.sh")
    return match.group(1).decode(), match.group(2).decode()


_SCRIPT: Final = Asset.of(minified())
_MODULE: Final = Asset.of(_SCRIPT.body + _MODULE_TAIL)
VERSION: Final = build_header(_SCRIPT.body)[0]


def _serve(asset: Asset, request: Request) -> Response:
    versioned = request.query_params.get("v") == VERSION
    headers = {
        "ETag": asset.etag,
        "Cache-Control": VERSIONED_CACHE if versioned else f"public, max-age={LATEST_MAX_AGE_S}",
        "X-Content-Type-Options": "nosniff",
        # Any site may embed it (it is public), also pages isolated with COEP.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, 200, headers, media_type="text/javascript; charset=utf-8")


@router.get("/v1/tracker.js", include_in_schema=False)
async def tracker_script(request: Request) -> Response:
    """The tracker as a classic script: defines ``window.privacyPipeline``."""
    return _serve(_SCRIPT, request)


@router.get("/v1/tracker.mjs", include_in_schema=False)
async def tracker_module(request: Request) -> Response:
    """The tracker as an ES module exporting ``init``, ``page``, … (and ``default``)."""
    return _serve(_MODULE, request)
