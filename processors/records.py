"""Privacy-safe records: what one event becomes for one purpose (DESIGN.md section 5).

Every field is treated as the policy says: identifiers pseudonymised under the purpose's key
or encrypted under it, the event id keyed under it too (never the raw id: it would join the
purposes' records), times coarsened to the hour, coordinates to a geohash cell, screens
stripped of query strings and generalised when they reveal health information. Nothing else
leaves: a field the policy does not keep is absent from the record.

What a purpose keeps is read once per purpose (:func:`plan_of`), not per event; pseudonyms and
epochs are computed once per (purpose, value, UTC day) per batch (:class:`Recall`, which the
engine clears per batch). The record is :class:`schemas.records.Sanitized`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

import pygeohash

from pipeline.policy import Policy, Purpose
from processors.refs import event_ref
from schemas.events import Geolocation, Navigation
from schemas.records import Sanitized

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


def day_number(at: datetime) -> int:
    """Days from the epoch to ``at``'s UTC day: key epochs (month, ISO week, day) are whole
    UTC days, so one day number names one epoch of every purpose."""
    return int(at.timestamp() // 86400)


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
    day: int = 0
    """:func:`day_number` of the event's time (the cache key of its epoch)."""


def shared_of(event: Navigation | Geolocation, policy: Policy) -> Shared:
    """The coarse fields of ``event``: its stream, UTC hour, generalised screen, geohash cell."""
    ts = event.occurred_at.timestamp()
    hour, day = _hour_text(int(ts // 3600)), int(ts // 86400)
    if isinstance(event, Navigation):
        return Shared("navigation", hour, policy.health_screen(event.screen), None, day)
    cell = pygeohash.encode(event.lat, event.lon, policy.geohash_precision)
    return Shared("geolocation", hour, None, cell, day)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one purpose keeps of an event, read once from its field treatments."""

    name: str
    pseudonym: bool
    app: bool
    platform: bool
    screen: bool
    type: bool
    campaign: bool
    cell: bool
    coords: bool
    encrypt: tuple[str, ...]
    """Identifier fields (:data:`_SECRET_FIELDS`) encrypted, in that order."""
    pseudonymise: tuple[str, ...]
    """Identifier fields pseudonymised (domain-separated from the user pseudonym)."""


def _plan(purpose: Purpose) -> Plan:
    f = purpose.fields.get
    return Plan(
        name=purpose.name,
        pseudonym=f("user_id") == "pseudonymise",
        app=f("app.name") == "keep",
        platform=f("app.platform") == "keep",
        screen=f("screen") in ("keep", "coarsen"),
        type=f("type") == "keep",
        campaign=f("campaign") == "keep",
        cell=f("lat") == "coarsen" and f("lon") == "coarsen",
        coords=f("coords") == "encrypt",
        encrypt=tuple(x for x in _SECRET_FIELDS if f(x) == "encrypt"),
        pseudonymise=tuple(x for x in _SECRET_FIELDS if f(x) == "pseudonymise"),
    )


_PLANS: dict[int, tuple[Purpose, Plan]] = {}
_PLANS_MAX = 256


def plan_of(purpose: Purpose) -> Plan:
    """The purpose's plan (cached by object: a policy's purposes live as long as it does)."""
    found = _PLANS.get(id(purpose))
    if found is not None and found[0] is purpose:
        return found[1]
    if len(_PLANS) >= _PLANS_MAX:  # policies reloaded many times (tests): start over
        _PLANS.clear()
    plan = _plan(purpose)
    _PLANS[id(purpose)] = (purpose, plan)  # the purpose is held: its id is not reused
    return plan


class Recall:
    """Pseudonyms and epochs of one batch, once per (purpose, value, UTC day).

    The engine keeps one and clears it per batch (keys may be rotated or destroyed between
    batches). A failed lookup (no live key) is not remembered: it raises every time.
    """

    __slots__ = ("_epochs", "_pseudonyms", "ring")

    def __init__(self, ring: Keyring) -> None:
        self.ring = ring
        self._pseudonyms: dict[tuple[str, str, int], str] = {}
        self._epochs: dict[tuple[str, int], str] = {}

    def clear(self) -> None:
        """Forget everything (a new batch)."""
        self._pseudonyms.clear()
        self._epochs.clear()

    def pseudonym(self, purpose: str, value: str, at: datetime, day: int) -> str:
        """``ring.pseudonym(purpose, value, at)``; ``day`` is ``day_number(at)``."""
        slot = (purpose, value, day)
        found = self._pseudonyms.get(slot)
        if found is None:
            found = self._pseudonyms[slot] = self.ring.pseudonym(purpose, value, at)
        return found

    def epoch(self, purpose: str, at: datetime, day: int) -> str:
        """``ring.epoch_of(purpose, at)``; ``day`` is ``day_number(at)``."""
        slot = (purpose, day)
        found = self._epochs.get(slot)
        if found is None:
            found = self._epochs[slot] = self.ring.epoch_of(purpose, at)
        return found


def sanitize(
    event: Navigation | Geolocation,
    purpose: Purpose,
    policy: Policy,
    ring: Keyring,
    anonymous: bool = False,
    shared: Shared | None = None,
    cipher: FieldCipher | None = None,
    recall: Recall | None = None,
) -> Sanitized:
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
        recall: The batch's pseudonyms and epochs over ``ring`` (None: none kept).

    Raises:
        keys.exceptions.KeysError: no usable key for the event's epoch (the caller drops it).
    """
    plan, at = plan_of(purpose), event.occurred_at
    common = shared or shared_of(event, policy)
    keys = recall or Recall(ring)
    name, day = plan.name, common.day
    # Keyed per purpose (processors.refs): the raw id would join the purposes' records.
    ref = event_ref(ring, name, event.event_id, at)
    pseudonym = keys.pseudonym(name, event.user_id, at, day) if plan.pseudonym and not anonymous \
        else None
    enc: dict[str, str] = {}
    screen = kind = campaign = cell = None
    if isinstance(event, Navigation):
        screen = common.screen if plan.screen else None
        kind = event.type if plan.type else None
        campaign = event.campaign if plan.campaign else None
    else:
        cell = common.cell if plan.cell else None
        if plan.coords:
            point = f"{event.lat!r},{event.lon!r}".encode()
            enc["coords"] = (cipher or ring).encrypt(name, "coords", point, at)
    app = event.app
    record = Sanitized(  # positional (the field order of Sanitized): the hot path
        ref, name, common.stream, common.hour, keys.epoch(name, at, day), pseudonym, anonymous,
        app.name if plan.app else None, app.platform if plan.platform else None,
        screen, kind, campaign, cell, enc,
    )
    if not anonymous:
        _secret_fields(record, event, plan, keys, cipher or ring, common.day)
    return record


def _secret_fields(
    record: Sanitized,
    event: Navigation | Geolocation,
    plan: Plan,
    keys: Recall,
    cipher: FieldCipher,
    day: int,
) -> None:
    at = event.occurred_at
    for field in plan.encrypt:
        value = getattr(event, field)
        if value is not None:
            record.enc[field] = cipher.encrypt(plan.name, field, value.encode(), at)
    pseudo: dict[str, str] = {}
    for field in plan.pseudonymise:
        value = getattr(event, field)
        if value is not None:
            # Domain-separated from the user pseudonym so the two can never be matched.
            pseudo[field] = keys.pseudonym(plan.name, f"{field}\x00{value}", at, day)
    if pseudo:
        record.pseudo = pseudo
