"""From the items of one HTTP batch to Kafka records and per-item rejections.

Each item is validated by the pipeline's one validator (:mod:`schemas.validator`), then
adjusted at the edge (client ip attached or removed, ``Sec-GPC`` recorded on consent) and
re-encoded, so what reaches Kafka is exactly the contract form of a valid event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import msgspec

from pipeline import topics as contract
from schemas import validator
from schemas.events import EVENT_TYPES, App, Consent, Event
from schemas.exceptions import InvalidEvent

EVENT_SCHEMAS: Final = frozenset({"navigation/1", "geolocation/1"})
"""Schemas accepted by ``POST /v1/events``."""
CONSENT_SCHEMAS: Final = frozenset({"consent/1", "rights/1"})
"""Schemas accepted by ``POST /v1/consent``."""


def _known_fields() -> frozenset[str]:
    names = {f"app.{name}" for name in App.__struct_fields__}
    for cls in EVENT_TYPES.values():
        names.update(cls.__struct_fields__)
    return frozenset(names | {"schema"})


_KNOWN_FIELDS: Final = _known_fields()


@dataclasses.dataclass(frozen=True)
class CollectorTopics:
    """Where each schema goes; injectable so tests can use uuid-named topics."""

    navigation: str = contract.NAVIGATION
    geolocation: str = contract.GEOLOCATION
    consent: str = contract.CONSENT

    @classmethod
    def with_prefix(cls, prefix: str) -> CollectorTopics:
        """The contract topics under ``prefix`` (``PRIVACY_PIPELINE_TOPIC_PREFIX``; '' = as is)."""
        return cls(
            prefix + contract.NAVIGATION, prefix + contract.GEOLOCATION, prefix + contract.CONSENT
        )

    def by_schema(self) -> dict[str, str]:
        """Topic of each schema tag."""
        return {
            "navigation/1": self.navigation,
            "geolocation/1": self.geolocation,
            "consent/1": self.consent,
            "rights/1": self.consent,
        }


@dataclasses.dataclass(frozen=True)
class Edge:
    """What the collector adds to events: the client ip (``None``: remove any) and GPC."""

    client_ip: str | None
    gpc: bool


class Record(NamedTuple):
    """One Kafka record: topic, key (the user id) and the event's contract JSON."""

    topic: str
    key: bytes
    value: bytes
    schema: str


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    """Why item ``index`` of the batch was rejected; ``label`` is the metrics category."""

    index: int
    reason: str
    field: str | None
    label: str


@dataclasses.dataclass
class Intake:
    """The outcome of one batch: records to produce and rejected items."""

    records: list[Record] = dataclasses.field(default_factory=list)
    rejected: list[Rejection] = dataclasses.field(default_factory=list)


def reason_label(exc: InvalidEvent) -> str:
    """A low-cardinality metrics label for a rejection (never a client-chosen string)."""
    if exc.field is None:
        return "malformed"
    if exc.reason.startswith(f"{exc.field}: unknown field"):
        return "unknown_field"
    if exc.field in _KNOWN_FIELDS:
        return f"invalid_{exc.field.replace('.', '_')}"
    return "invalid"


def _adjust(event: Event, edge: Edge) -> Event:
    changes: dict[str, object] = {}
    if event.ip != edge.client_ip:
        changes["ip"] = edge.client_ip
    if edge.gpc and isinstance(event, Consent) and event.gpc is not True:
        changes["gpc"] = True
    return msgspec.structs.replace(event, **changes) if changes else event


def _wrong_endpoint(index: int, schema: str) -> Rejection:
    target = "/v1/consent" if schema in CONSENT_SCHEMAS else "/v1/events"
    reason = f"schema: {schema} events are not accepted here; post them to {target}"
    return Rejection(index, reason, "schema", "wrong_endpoint")


def build_intake(
    items: Iterable[msgspec.Raw],
    allowed: frozenset[str],
    topics: Mapping[str, str],
    edge: Edge,
) -> Intake:
    """Validate every item; route the valid ones, keyed by ``user_id``.

    Args:
        items: the raw JSON of each batch item, in order.
        allowed: schemas this endpoint accepts; others are rejected with the right endpoint.
        topics: topic by schema (:meth:`CollectorTopics.by_schema`).
        edge: the client ip to attach (or ``None``) and whether ``Sec-GPC: 1`` was sent.

    Returns:
        Records in batch order and rejections with their batch index and precise reason.
    """
    out = Intake()
    for index, raw in enumerate(items):
        try:
            event = validator.decode(memoryview(raw))
        except InvalidEvent as exc:
            out.rejected.append(Rejection(index, exc.reason, exc.field, reason_label(exc)))
            continue
        schema = event.schema
        if schema not in allowed:
            out.rejected.append(_wrong_endpoint(index, schema))
            continue
        event = _adjust(event, edge)
        value = validator.encode(event)
        out.records.append(Record(topics[schema], event.user_id.encode(), value, schema))
    return out


def decode_batch(body: bytes) -> Sequence[msgspec.Raw]:
    """Split a JSON array body into its items' raw JSON (each validated later on its own).

    Raises:
        msgspec.DecodeError: not JSON; msgspec.ValidationError: JSON but not an array.
    """
    return msgspec.json.decode(body, type=list[msgspec.Raw])
