"""Records the processors write: outputs to the sink and the values of the worker's tables.

One module that the processors (which build them), the sink and the bench harness (which read
them) and the rights export (which reads the tables' changelogs) all import, so a field is
named once. Every record is a msgspec Struct and :func:`encode` (one JSON encoder) writes
them; the contract is docs/ARCHITECTURE.md, "Records from processors to the sink".

The sink rejects an incomplete record row by row (a reason per record, in SQL), never a whole
message for one bad record: so every field of :class:`Sanitized` and :class:`Decision` has a
default, and a record that lacks a field decodes with it ``None``. The table values keep the
exact shape (and bytes) of the changelogs written before this module existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

# -- outcomes ----------------------------------------------------------------------------

Outcome = Literal[
    # navigation and geolocation events, per purpose (docs/ARCHITECTURE.md, "Outcomes")
    "kept",
    "kept_anonymous",
    "dropped_no_consent",
    "dropped_withdrawn",
    "dropped_erased",
    "dropped_objection",
    "dropped_late",
    "dropped_future",
    "dropped_no_key",
    "dropped_hold_overflow",
    # consent and rights records
    "applied",
    "ignored_unknown_purpose",
    "ignored_invalid_tcf_encoding",
    "ignored_invalid_tcf_invalid",
    "ignored_invalid_tcf_invalid_field",
    "ignored_invalid_tcf_missing_segment",
    "ignored_invalid_tcf_policy_version",
    "ignored_invalid_tcf_segment_type",
    "ignored_invalid_tcf_trailing_data",
    "ignored_invalid_tcf_truncated",
    "ignored_invalid_tcf_version",
    "rights_erasure",
    "rights_objection",
    "rights_access",
    "rights_portability",
    "rights_rectification",
    # an input that is no valid event (dead-lettered; purpose "all")
    "invalid",
]
"""Every outcome the engine counts and writes to ``pipeline.decisions.v1``."""

Transition = Literal["granted", "denied", "withdrawn"]


# -- outputs to the sink -----------------------------------------------------------------


class Sanitized(msgspec.Struct, gc=False):
    """One ``sanitized.<purpose>.v1`` record: a kept event as one purpose may see it.

    ``pseudo`` (keyed pseudonyms of device, session or ip, when the purpose pseudonymises
    them) is written only when there is one, as before.
    """

    event_id: str | None = None
    """Keyed per purpose (processors.refs), never the raw id."""
    purpose: str | None = None
    stream: str | None = None
    hour: str | None = None
    epoch: str | None = None
    pseudonym: str | None = None
    anonymous: bool | None = None
    app: str | None = None
    platform: str | None = None
    screen: str | None = None
    type: str | None = None
    campaign: str | None = None
    cell: str | None = None
    enc: dict[str, str] = {}
    pseudo: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class Decision(msgspec.Struct, gc=False, omit_defaults=True):
    """One ``pipeline.decisions.v1`` record; :meth:`event`, :meth:`consent` and
    :meth:`invalid` build the three kinds with the fields each carries (None fields are not
    written). The field order keeps each kind's key order as documented."""

    kind: str | None = None
    event_id: str | None = None
    """Ledger-keyed (processors.refs), never the raw id."""
    source: str | None = None
    purpose: str | None = None
    stream: str | None = None
    day: str | None = None
    outcomes: dict[str, str] | None = None
    transition: str | None = None
    subject: str | None = None
    verified: bool | None = None
    reason: str | None = None

    @classmethod
    def event(cls, event_id: str | None, stream: str, day: str,
              outcomes: Mapping[str, Outcome]) -> Decision:
        """What happened to one input event, per purpose."""
        return cls("event", event_id, None, None, stream, day, dict(outcomes))

    @classmethod
    def consent(cls, event_id: str | None, purpose: str, day: str, transition: Transition,
                subject: str, verified: bool) -> Decision:
        """One purpose's consent transition (feeds ``consent_daily``)."""
        return cls("consent", event_id, purpose=purpose, day=day, transition=transition,
                   subject=subject, verified=verified)

    @classmethod
    def invalid(cls, source: str, stream: str, day: str, reason: str) -> Decision:
        """An input that was dead-lettered (``source``: ``topic:partition:offset[#index]``)."""
        return cls("invalid", source=source, stream=stream, day=day, reason=reason)


class SanitizedMessage(Sanitized, gc=False):
    """A sanitized topic's message as the sink reads it: one record, or ``{"records": [...]}``."""

    records: list[Sanitized] | None = None


class DecisionMessage(Decision, gc=False):
    """A decisions message as readers take it: one record, or ``{"records": [...]}``."""

    records: list[Decision] | None = None


class DeadLetter(msgspec.Struct):
    """One ``pipeline.deadletter.v1`` record: a rejected input and why (one per message)."""

    topic: str
    partition: int
    offset: int
    reason: str
    field: str | None
    at: str
    """When it was rejected (ISO 8601, UTC)."""
    original_bytes: int
    original_truncated: bool
    original: str | None
    """The input's first bytes, encrypted (ledger key or the user's subject key); None when
    no key could seal them."""


# -- values of the worker's tables (changelogged: their bytes are a contract) --------------


class Held(msgspec.Struct, array_like=True):
    """An event held until the user's first consent arrives or the grace window ends."""

    topic: str
    partition: int
    offset: int
    value: bytes
    deadline: float
    index: int = 0
    """The event's index in its envelope (0 for a record of one event)."""


class HeldIndex(msgspec.Struct):
    """Where a user's held events are: sequence range, raw bytes, partitions, first deadline."""

    first: int
    next: int
    size: int
    partition: int
    """Input partition of the first event held (the consent fence of its release)."""
    head: float
    """Deadline of the oldest held event (rebuilds the engine's deadline heap on restart)."""
    last: dict[str, int] = msgspec.field(default_factory=dict)
    """Offset of the latest event held, per input ``topic:partition``: a batch decided again
    after a retry holds nothing twice (holds of one partition come in offset order)."""
    home: int = -1
    """The subject's partition, where these keys are filed (recovery has no raw id to
    derive it from)."""
    last_index: dict[str, int] = msgspec.field(default_factory=dict)
    """Index in its envelope of that latest event (events of one envelope share an offset)."""

    @property
    def count(self) -> int:
        """Number of events held."""
        return self.next - self.first


class AuditIndex(msgspec.Struct):
    """Which rights requests of a subject are kept (``[first, next)``) and how many were
    dropped. A JSON object: a trail written before the bound (a JSON list) stays readable."""

    first: int = 0
    next: int = 0
    omitted: int = 0


class Erasure(msgspec.Struct):
    """An erasure: when it occurred and, until it applies, the event offsets it waits for.

    ``targets`` maps an event topic to the end offset of ``partition`` (the input partition
    the erasure was read on) when the erasure was read: events before those offsets were
    acknowledged before the erasure and are decided first. An empty ``targets`` means the
    erasure has applied (a tombstone: the time only, until it expires).
    """

    ts: float
    partition: int = 0
    targets: dict[str, int] = msgspec.field(default_factory=dict)
    home: int = -1
    """The subject's partition, where the record is filed (recovery has no raw id)."""


# -- encoding ------------------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder()


def encode(record: Any) -> bytes:
    """JSON bytes of a record, a table value or ``{"records": [...]}`` of records."""
    return _ENCODER.encode(record)


__all__ = [
    "AuditIndex",
    "DeadLetter",
    "Decision",
    "DecisionMessage",
    "Erasure",
    "Held",
    "HeldIndex",
    "Outcome",
    "Sanitized",
    "SanitizedMessage",
    "Transition",
    "encode",
]
