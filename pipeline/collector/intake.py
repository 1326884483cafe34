"""From the items of one HTTP batch to Kafka records and per-item rejections.

Each item is validated by the pipeline's one validator (:mod:`schemas.validator`), checked
against the key's scopes and (for consent/rights, when configured) the request's subject
token, adjusted at the edge (client ip attached or removed, ``Sec-GPC`` recorded on consent),
re-encoded and validated again, so what reaches Kafka is exactly the contract form of a valid
event: the collector never acknowledges an event the worker would dead-letter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

import msgspec

from pipeline.collector.auth import SCHEMA_SCOPES, SCOPES
from pipeline.collector.subject import SubjectCheck
from pipeline.topics import TopicNames
from schemas import validator
from schemas.events import EVENT_TYPES, App, Consent, Event
from schemas.exceptions import InvalidEvent

EVENT_SCHEMAS: Final = frozenset({"navigation/1", "geolocation/1"})
"""Schemas accepted by ``POST /v1/events``."""
CONSENT_SCHEMAS: Final = frozenset({"consent/1", "rights/1"})
"""Schemas accepted by ``POST /v1/consent``."""
VERIFIED_HEADER: Final = "pp-subject-verified"
"""Kafka header on every consent-topic record: ``1`` when the collector verified the subject
token binding the event to its ``user_id``, else ``0``. Only the collector sets it."""


def _known_fields() -> frozenset[str]:
    names = {f"app.{name}" for name in App.__struct_fields__}
    for cls in EVENT_TYPES.values():
        names.update(cls.__struct_fields__)
    return frozenset(names | {"schema"})


_KNOWN_FIELDS: Final = _known_fields()


@dataclasses.dataclass(frozen=True)
class CollectorTopics:
    """Where each schema goes; injectable so tests can use uuid-named topics."""

    navigation: str
    geolocation: str
    consent: str

    @classmethod
    def of(cls, names: TopicNames) -> CollectorTopics:
        """The contract's input topics under ``names``' prefix."""
        return cls(names.navigation, names.geolocation, names.consent)

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
    """What the collector knows of the request: client ip (``None``: remove any), GPC, the
    key's scopes and the subject token's check (``None``: subject binding is off)."""

    client_ip: str | None
    gpc: bool
    scopes: frozenset[str] = frozenset(SCOPES)
    subject: SubjectCheck | None = None


class Record(NamedTuple):
    """One Kafka record: topic, key (the user id), the event's contract JSON and, for the
    consent topic, whether the subject was verified (``None``: no header)."""

    topic: str
    key: bytes
    value: bytes
    schema: str
    verified: bool | None = None

    def headers(self) -> list[tuple[str, bytes]] | None:
        """Kafka headers of the record (the collector's own, never the client's)."""
        if self.verified is None:
            return None
        return [(VERIFIED_HEADER, b"1" if self.verified else b"0")]


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
    forbidden: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    """Indices of valid events whose scope the key lacks, by scope (the batch gets 403)."""


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


def _subject_bound(event: Event, index: int, edge: Edge) -> Rejection | None:
    if edge.subject is None or event.schema not in CONSENT_SCHEMAS:
        return None
    reason = edge.subject.reason(event.user_id)
    if reason is None:
        return None
    field = "user_id" if reason.startswith("user_id") else None
    return Rejection(index, reason, field, "subject_unverified")


def _route(
    event: Event, index: int, edge: Edge, topics: Mapping[str, str]
) -> Record | Rejection:
    """The event's record (with the edge's additions, validated again as the worker will
    validate it), or why it is refused."""
    refused = _subject_bound(event, index, edge)
    if refused is not None:
        return refused
    event = _adjust(event, edge)
    value = validator.encode(event)
    try:
        validator.decode(value)
    except InvalidEvent as exc:
        reason = f"{exc.reason} (after the collector added ip/gpc)"
        return Rejection(index, reason, exc.field, reason_label(exc))
    schema = event.schema
    verified = (edge.subject is not None) if schema in CONSENT_SCHEMAS else None
    return Record(topics[schema], event.user_id.encode(), value, schema, verified)


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
        edge: client ip, ``Sec-GPC``, the key's scopes and the subject token's check.

    Returns:
        Records in batch order, rejections with their batch index and precise reason, and
        the valid events the key has no scope for (the caller refuses the whole batch).
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
        if SCHEMA_SCOPES[schema] not in edge.scopes:
            out.forbidden.setdefault(SCHEMA_SCOPES[schema], []).append(index)
            continue
        routed = _route(event, index, edge, topics)
        if isinstance(routed, Rejection):
            out.rejected.append(routed)
        else:
            out.records.append(routed)
    return out


def decode_batch(body: bytes) -> Sequence[msgspec.Raw]:
    """Split a JSON array body into its items' raw JSON (each validated later on its own).

    Raises:
        msgspec.DecodeError: not JSON; msgspec.ValidationError: JSON but not an array;
        RecursionError: nested deeper than the parser's recursion limit.
    """
    return msgspec.json.decode(body, type=list[msgspec.Raw])
