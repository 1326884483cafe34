"""Typed events of contract v1 (DESIGN.md section 4) as msgspec Structs.

The four event types form one tagged union, :data:`Event`, told apart by the ``schema``
field (``navigation/1``, ``geolocation/1``, ``consent/1``, ``rights/1``). Every Struct
forbids unknown fields and bounds every string, so an event that passes is small (well under
the 64 KiB payload limit) whichever way it arrived. The field descriptions below are also the
descriptions of the published JSON Schemas (``schemas/*.schema.json``, see
:mod:`schemas.contract`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal, TypeAlias, get_args

from msgspec import Meta, Struct

ID_MAX: Final = 128
"""Longest accepted identifier (event, user, device, session ids), in characters."""

Id = Annotated[str, Meta(min_length=1, max_length=ID_MAX)]
Timestamp = Annotated[
    datetime,
    Meta(
        tz=True,
        description="RFC 3339 date-time with a UTC offset, e.g. 2026-11-26T10:15:00+01:00 or "
        "2026-11-26T09:15:00Z. A time without offset is rejected. Also accepted: a lowercase "
        "t or z, a space instead of T, an offset without colon (+0100).",
    ),
]
PurposeName = Annotated[str, Meta(min_length=1, max_length=64)]

Platform = Literal["ios", "android", "web"]
NavigationType = Literal["screen_view", "page_view", "action"]
ConsentSource = Literal["banner", "app_settings", "api", "import"]
Right = Literal["erasure", "objection", "access", "portability", "rectification"]

LAT_RANGE: Final = (-90.0, 90.0)
LON_RANGE: Final = (-180.0, 180.0)
# Half the Earth's circumference and then some: anything larger is not an accuracy, and the
# upper bound also keeps infinity out.
ACCURACY_RANGE: Final = (0.0, 10_000_000.0)


class _Strict(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Common Struct options: immutable, unknown fields rejected, ``None`` omitted on encode."""


class App(_Strict, frozen=True):
    """The app that emitted the event."""

    name: Annotated[str, Meta(min_length=1, max_length=128, description="App name.")]
    platform: Annotated[Platform, Meta(description="ios, android or web.")]
    version: Annotated[str, Meta(min_length=1, max_length=64, description="App version.")]


class _Event(_Strict, frozen=True, kw_only=True, tag_field="schema"):
    """Fields common to every event of contract v1."""

    event_id: Annotated[Id, Meta(description="Unique event id, used for de-duplication.")]
    user_id: Annotated[Id, Meta(description="Raw user identifier (account or contract number).")]
    occurred_at: Timestamp
    device_id: Annotated[Id, Meta(description="Device identifier.")] | None = None
    session_id: Annotated[Id, Meta(description="Session identifier.")] | None = None
    ip: Annotated[str, Meta(min_length=1, max_length=64, description="Client IP.")] | None = None

    @property
    def schema(self) -> str:
        """The event's ``schema`` tag, e.g. ``"navigation/1"``."""
        return str(type(self).__struct_config__.tag)


class Navigation(_Event, frozen=True, kw_only=True, tag="navigation/1"):
    """A screen view, page view or action in an app."""

    app: App
    type: Annotated[NavigationType, Meta(description="screen_view, page_view or action.")]
    screen: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=512,
            description="Screen or page name; a query string is stripped by the pipeline.",
        ),
    ]
    referrer: Annotated[str, Meta(min_length=1, max_length=2048)] | None = None
    campaign: Annotated[str, Meta(min_length=1, max_length=256)] | None = None


class Geolocation(_Event, frozen=True, kw_only=True, tag="geolocation/1"):
    """A device position (sensitive: kept only with explicit geolocation consent)."""

    app: App
    lat: Annotated[float, Meta(ge=LAT_RANGE[0], le=LAT_RANGE[1], description="Latitude, degrees.")]
    lon: Annotated[float, Meta(ge=LON_RANGE[0], le=LON_RANGE[1], description="Longitude, degrees.")]
    accuracy_m: (
        Annotated[
            float,
            Meta(ge=ACCURACY_RANGE[0], le=ACCURACY_RANGE[1], description="Accuracy, metres."),
        ]
        | None
    ) = None


class Consent(_Event, frozen=True, kw_only=True, tag="consent/1"):
    """A partial consent update: purposes not named keep their state."""

    purposes: Annotated[
        dict[PurposeName, bool],
        Meta(
            max_length=64,
            description="Purpose name to granted (true) or denied (false). A purpose the "
            "policy does not know is ignored and counted, not rejected.",
        ),
    ]
    source: Annotated[ConsentSource, Meta(description="banner, app_settings, api or import.")]
    tcf: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=16384,
                pattern=r"^[A-Za-z0-9_.\-]+(?!\n)$",
                description="IAB TCF v2.2 consent string.",
            ),
        ]
        | None
    ) = None
    gpc: (
        Annotated[bool, Meta(description="Global Privacy Control seen: true denies advertising.")]
        | None
    ) = None
    app: App | None = None


class Rights(_Event, frozen=True, kw_only=True, tag="rights/1"):
    """A data-subject rights request."""

    right: Annotated[
        Right, Meta(description="erasure, objection, access, portability or rectification.")
    ]
    purposes: (
        Annotated[
            list[PurposeName],
            Meta(max_length=64, description="Purposes objected to (objection only)."),
        ]
        | None
    ) = None
    app: App | None = None


Event: TypeAlias = Navigation | Geolocation | Consent | Rights
"""Any event of contract v1; decode with :func:`schemas.validator.decode`."""

EVENT_TYPES: Final[dict[str, type[Event]]] = {
    str(cls.__struct_config__.tag): cls for cls in (Navigation, Geolocation, Consent, Rights)
}
"""Event Struct by ``schema`` tag, in contract order."""

CHOICES: Final[dict[str, tuple[Any, ...]]] = {
    "schema": tuple(EVENT_TYPES),
    "app.platform": get_args(Platform),
    "type": get_args(NavigationType),
    "source": get_args(ConsentSource),
    "right": get_args(Right),
}
"""Allowed values of each enumerated field, by field path (used in error reasons)."""

RANGES: Final[dict[str, tuple[float, float]]] = {
    "lat": LAT_RANGE,
    "lon": LON_RANGE,
    "accuracy_m": ACCURACY_RANGE,
}
"""Inclusive bounds of each numeric field, by field path (used in error reasons)."""
