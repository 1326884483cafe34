"""The ``privacy-pipeline.export/1`` document: what the pipeline holds about one data subject.

Pure functions over the worker's decoded state (no I/O); :mod:`pipeline.rights` reads the
state from Kafka. The format (README, "Access and portability"):

- ``format``: ``"privacy-pipeline.export/1"``; ``exported_at``: RFC 3339, UTC.
- ``subject``: ``{"user_id": …}``, the subject's own id (the point of an access request).
- ``status``: ``active`` (state held), ``erasure_pending`` (an erasure waits for events sent
  before it), ``erased`` (only the erasure's audit record remains, :func:`after_erasure`),
  ``none`` (nothing held).
- ``consent``: null, or ``{"first_answer_at", "purposes": {purpose: {"state":
  "granted"|"denied", "history": [{"at", "granted"}]}}, "objections": {purpose: at}}``.
- ``held_events``: ``{"count", "events": [{"stream", "occurred_at", "held_until"}]}``,
  events waiting in the grace window for a first consent (times only, no content).
- ``rights_requests``: ``[{"right", "at", "purposes", "outcome"}]``, oldest first.
- ``erasure``: null, or ``{"requested_at", "applied": bool}`` (null once the erasure's
  tombstone has expired: its audit record still says it happened).

After an erasure has applied, ``consent`` is null, ``held_events`` empty and
``rights_requests`` holds the erasure requests only: the worker deleted everything else; the
audit trail (kept under the user's subject handle, without raw ids) says it happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from processors.state import ConsentState
from schemas.records import Erasure, Held

FORMAT: Final = "privacy-pipeline.export/1"
_AUDIT_FIELDS: Final = ("right", "at", "purposes", "outcome", "verified")
_STREAMS: Final = {"navigation/1": "navigation", "geolocation/1": "geolocation"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def consent_section(state: ConsentState) -> dict[str, Any]:
    """Consent state and history per purpose, objections, first answer."""
    purposes = {
        name: {
            "state": None if not h.granted else ("granted" if h.granted[-1] else "denied"),
            "history": [
                {"at": _iso(t), "granted": g} for t, g in zip(h.times, h.granted, strict=True)
            ],
        }
        for name, h in sorted(state.purposes.items())
    }
    return {
        "first_answer_at": None if state.first_ts is None else _iso(state.first_ts),
        "purposes": purposes,
        "objections": {p: _iso(ts) for p, ts in sorted(state.objections.items())},
        # Per purpose: whether its last change came with a verified subject token (the
        # collector's X-Subject-Token check), so the DPO can demonstrate consent (art. 7(1)).
        "verified": dict(sorted(state.verified.items())),
    }


def held_section(held: list[Held]) -> dict[str, Any]:
    """Count and times of the events held for a first consent (never their content)."""
    events = []
    for item in held:
        try:
            body = msgspec.json.decode(item.value)
        except msgspec.DecodeError:
            body = {}
        body = body if isinstance(body, dict) else {}
        events.append(
            {
                "stream": _STREAMS.get(str(body.get("schema")), "unknown"),
                "occurred_at": body.get("occurred_at"),
                "held_until": _iso(item.deadline),
            }
        )
    return {"count": len(events), "events": events}


def audit_section(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rights requests and outcomes, oldest first, without internal event ids."""
    kept = [{k: r.get(k) for k in _AUDIT_FIELDS} for r in records]
    return sorted(kept, key=lambda r: str(r["at"]))


def _status(
    state: ConsentState | None,
    held: list[Held],
    erasure: Erasure | None,
    audit: list[dict[str, Any]],
) -> str:
    if erasure is not None and erasure.targets:
        return "erasure_pending"
    if state is not None or held:
        return "active"
    # The tombstone expires (lateness bound + margin); the erasure's audit record stays.
    if erasure is not None or any(r.get("right") == "erasure" for r in audit):
        return "erased"
    return "none"


def after_erasure(
    user: str, at: datetime, erasure: Erasure | None, audit: list[dict[str, Any]]
) -> dict[str, Any]:
    """The document of an erased user: nothing but the erasure's audit record.

    The one place to add what an erasure leaves, and until when (the erasure timeline).
    """
    erasures = [r for r in audit if r.get("right") == "erasure"]
    return {
        "format": FORMAT,
        "exported_at": at.astimezone(UTC).isoformat(),
        "subject": {"user_id": user},
        "status": "erased",
        "consent": None,
        "held_events": held_section([]),
        "rights_requests": audit_section(erasures),
        "erasure": None if erasure is None else {"requested_at": _iso(erasure.ts), "applied": True},
    }


def document(
    user: str,
    at: datetime,
    state: ConsentState | None,
    held: list[Held],
    erasure: Erasure | None,
    audit: list[dict[str, Any]],
) -> dict[str, Any]:
    """The export document (module docstring) from the decoded state."""
    status = _status(state, held, erasure, audit)
    if status == "erased":
        return after_erasure(user, at, erasure, audit)
    return {
        "format": FORMAT,
        "exported_at": at.astimezone(UTC).isoformat(),
        "subject": {"user_id": user},
        "status": status,
        "consent": None if state is None else consent_section(state),
        "held_events": held_section(held),
        "rights_requests": audit_section(audit),
        "erasure": None
        if erasure is None
        else {"requested_at": _iso(erasure.ts), "applied": not erasure.targets},
    }
