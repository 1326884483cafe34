"""The vocabulary of a policy: treatments, legal bases, epochs, streams and event fields.

The field catalogue follows DESIGN.md section 4 (``navigation/1`` and ``geolocation/1``); nested
``app`` fields are named by their dotted path (``"app.platform"``), as
:class:`schemas.exceptions.InvalidEvent` names them. ``coords`` is a pseudo-field: the precise
point (``lat`` and ``lon`` together), whose only lawful survival is encryption.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Literal, get_args

Treatment = Literal["drop", "keep", "pseudonymise", "coarsen", "encrypt"]
Basis = Literal["consent", "explicit_consent", "legal_obligation", "legitimate_interest"]
Epoch = Literal["month", "week", "day"]
Stream = Literal["navigation", "geolocation"]

TREATMENTS: Final[tuple[str, ...]] = get_args(Treatment)
BASES: Final[tuple[str, ...]] = get_args(Basis)
EPOCHS: Final[tuple[str, ...]] = get_args(Epoch)
STREAMS: Final[tuple[str, ...]] = get_args(Stream)

CONSENT_BASES: Final = frozenset({"consent", "explicit_consent"})
"""Bases under which processing needs the user's consent (and withdrawal stops it)."""

OBJECTABLE_BASES: Final = frozenset({"legitimate_interest"})
"""Bases a rights/1 objection applies to (GDPR art. 21)."""

DESIGN_PURPOSES: Final[tuple[str, ...]] = (
    "audience_measurement",
    "geolocation",
    "personalisation",
    "advertising",
    "fraud_prevention",
)
"""The purposes of DESIGN.md section 5: every policy must define them (product contract)."""

LEDGER: Final = "consent_ledger"
"""Internal key name of consent-ledger pseudonyms; reserved, cannot name a purpose."""

_COMMON: Final = ("user_id", "device_id", "session_id", "ip", "occurred_at")
_APP: Final = ("app.name", "app.platform", "app.version")

STREAM_FIELDS: Final = MappingProxyType(
    {
        "navigation": (*_COMMON, *_APP, "type", "screen", "referrer", "campaign"),
        "geolocation": (*_COMMON, *_APP, "lat", "lon", "coords", "accuracy_m"),
    }
)
"""Fields each stream's events carry, as the policy names them."""

IDENTIFIER_FIELDS: Final[tuple[str, ...]] = (
    "user_id",
    "device_id",
    "session_id",
    "ip",
    "lat",
    "lon",
    "coords",
)
"""Fields that identify a person or place them precisely: explicit treatment required."""

_IDS: Final = ("drop", "pseudonymise", "encrypt")
_PLAIN: Final = ("drop", "keep")

ALLOWED: Final = MappingProxyType(
    {
        "user_id": _IDS,
        "device_id": _IDS,
        "session_id": _IDS,
        "ip": _IDS,
        "lat": ("drop", "coarsen"),
        "lon": ("drop", "coarsen"),
        "coords": ("drop", "encrypt"),
        "occurred_at": ("coarsen", "keep"),
        "app.name": _PLAIN,
        "app.platform": _PLAIN,
        "app.version": _PLAIN,
        "type": _PLAIN,
        "screen": _PLAIN,
        "referrer": _PLAIN,
        "campaign": _PLAIN,
        "accuracy_m": _PLAIN,
    }
)
"""Treatments that make sense for each field (identifiers are never kept in clear)."""

ALL_FIELDS: Final[tuple[str, ...]] = tuple(ALLOWED)

DEFAULT_TREATMENT: Final[Treatment] = "drop"
"""Treatment of a non-identifier field a purpose does not name: data minimisation."""
