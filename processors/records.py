"""Privacy-safe records: what one event becomes for one purpose (DESIGN.md section 5).

Every field is treated as the policy says: identifiers pseudonymised under the purpose's key
or encrypted under it, the event id keyed under it too (never the raw id: it would join the
purposes' records), times coarsened to the hour, coordinates to a geohash cell, screens
stripped of query strings and generalised when they reveal health information. Nothing else
leaves: a field the policy does not keep is absent from the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import pygeohash

from pipeline.policy import Policy, Purpose
from processors.refs import event_ref
from schemas.events import Geolocation, Navigation

# Identifier fields that may be encrypted or pseudonymised besides user_id.
_SECRET_FIELDS = ("device_id", "session_id", "ip")


class Keyring(Protocol):
    """The part of :class:`keys.Keyring` the processors use."""

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str: ...

    def pseudonym(self, purpose: str, user_id: str, at: datetime) -> str: ...

    def epoch_of(self, purpose: str, at: datetime) -> str: ...


class FieldCipher(Protocol):
    """What encrypts a record's fields: the keyring (purpose keys) or a user's subject keys
    (:mod:`processors.subjectkeys`, bound to the event's user by the engine)."""

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str: ...


def hour_of(at: datetime) -> str:
    """The UTC hour of ``at`` as ISO 8601 with ``Z`` (the coarse time of every record)."""
    return _hour_text(int(at.timestamp() // 3600))


def day_of(at: datetime) -> str:
    """The UTC day of ``at`` as ``YYYY-MM-DD``."""
    return _day_text(int(at.timestamp() // 86400))


# Formatting a datetime costs more than deciding an event; a batch spans a few hours.
@lru_cache(maxsize=4096)
def _hour_text(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:00:00Z")


@lru_cache(maxsize=1024)
def _day_text(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Shared:
    """The coarse fields of one event, the same for every purpose: computed once per event."""

    stream: str
    hour: str
    screen: str | None
    cell: str | None


def shared_of(event: Navigation | Geolocation, policy: Policy) -> Shared:
    """The coarse fields of ``event``: its stream, UTC hour, generalised screen, geohash cell."""
    if isinstance(event, Navigation):
        return Shared("navigation", hour_of(event.occurred_at), policy.health_screen(event.screen),
                      None)
    cell = pygeohash.encode(event.lat, event.lon, policy.geohash_precision)
    return Shared("geolocation", hour_of(event.occurred_at), None, cell)


def sanitize(
    event: Navigation | Geolocation,
    purpose: Purpose,
    policy: Policy,
    ring: Keyring,
    anonymous: bool = False,
    shared: Shared | None = None,
    cipher: FieldCipher | None = None,
) -> dict[str, Any]:
    """Build the ``sanitized.<purpose>.v1`` record of a kept event.

    Args:
        event: A valid navigation or geolocation event.
        purpose: The purpose it was kept for.
        policy: The policy (health patterns, geohash precision).
        ring: Keys of the purpose (pseudonyms, field encryption).
        anonymous: CNIL-exempt anonymous count: no pseudonym at all.
        shared: ``shared_of(event, policy)``, when the caller builds records of several
            purposes from one event.
        cipher: Encrypts the fields (the engine's: the user's subject keys); None: ``ring``.

    Raises:
        keys.exceptions.KeysError: no usable key for the event's epoch (the caller drops it).
    """
    name, at, fields = purpose.name, event.occurred_at, purpose.fields
    common = shared or shared_of(event, policy)
    record: dict[str, Any] = {
        # Keyed per purpose (processors.refs): the raw id would join the purposes' records.
        "event_id": event_ref(ring, name, event.event_id, at),
        "purpose": name,
        "stream": common.stream,
        "hour": common.hour,
        "epoch": ring.epoch_of(name, at),
        "pseudonym": None,
        "anonymous": anonymous,
        "app": event.app.name if fields.get("app.name") == "keep" else None,
        "platform": event.app.platform if fields.get("app.platform") == "keep" else None,
        "screen": None,
        "type": None,
        "campaign": None,
        "cell": None,
        "enc": {},
    }
    if not anonymous and fields.get("user_id") == "pseudonymise":
        record["pseudonym"] = ring.pseudonym(name, event.user_id, at)
    if isinstance(event, Navigation):
        _navigation_fields(record, event, fields, common)
    else:
        _geolocation_fields(record, event, fields, common, cipher or ring)
    if not anonymous:
        _secret_fields(record, event, purpose, ring, cipher or ring)
    return record


def _navigation_fields(
    record: dict[str, Any], event: Navigation, fields: Any, common: Shared
) -> None:
    if fields.get("screen") in ("keep", "coarsen"):
        record["screen"] = common.screen
    if fields.get("type") == "keep":
        record["type"] = event.type
    if fields.get("campaign") == "keep" and event.campaign is not None:
        record["campaign"] = event.campaign


def _geolocation_fields(
    record: dict[str, Any], event: Geolocation, fields: Any, common: Shared, cipher: FieldCipher
) -> None:
    if fields.get("lat") == "coarsen" and fields.get("lon") == "coarsen":
        record["cell"] = common.cell
    if fields.get("coords") == "encrypt":
        point = f"{event.lat!r},{event.lon!r}".encode()
        record["enc"]["coords"] = cipher.encrypt(
            record["purpose"], "coords", point, event.occurred_at
        )


def _secret_fields(
    record: dict[str, Any],
    event: Navigation | Geolocation,
    purpose: Purpose,
    ring: Keyring,
    cipher: FieldCipher,
) -> None:
    for field in _SECRET_FIELDS:
        value = getattr(event, field)
        if value is None:
            continue
        treatment = purpose.fields.get(field)
        if treatment == "encrypt":
            record["enc"][field] = cipher.encrypt(
                purpose.name, field, value.encode(), event.occurred_at
            )
        elif treatment == "pseudonymise":
            # Domain-separated from the user pseudonym so the two can never be matched.
            record.setdefault("pseudo", {})[field] = ring.pseudonym(
                purpose.name, f"{field}\x00{value}", event.occurred_at
            )
