"""The envelope of contract v1 (DESIGN.md section 3): several events of one user in one message.

A value on an input topic is one event, or an envelope ``{"schema": "batch/1", "events":
[...]}`` of events of the one user it is keyed by. The collector writes envelopes so the
per-message cost of Kafka and faust is shared by the events of a request; each event inside
is still validated, decided, de-duplicated and dead-lettered on its own. Only the shape of the
envelope is checked here: its events stay raw JSON slices (``msgspec.Raw``), decoded one by
one by :func:`schemas.validator.decode_message`.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta, Struct

ENVELOPE_SCHEMA: Final = "batch/1"
"""The ``schema`` tag of an envelope."""
MAX_ENVELOPE_BYTES: Final = 1024 * 1024
"""Largest accepted message holding an envelope, in bytes (1 MiB, Kafka's default limit)."""
MAX_ENVELOPE_EVENTS: Final = 500
"""Most events in one envelope: the collector's batch limit."""
PACK_MAX_BYTES: Final = MAX_ENVELOPE_BYTES - 8 * 1024
"""Largest envelope producers build: under the limit by room for the key, the headers and
Kafka's record framing, so the message also fits the broker's and the clients' default 1 MiB
limits (kafka-python refuses a record whose value alone is 1 MiB)."""


class Envelope(
    Struct, frozen=True, forbid_unknown_fields=True, tag_field="schema", tag=ENVELOPE_SCHEMA
):
    """Events of one user, sent as one message keyed by that user's ``user_id``."""

    events: Annotated[
        list[msgspec.Raw],
        Meta(
            min_length=1,
            max_length=MAX_ENVELOPE_EVENTS,
            description="The events (navigation/1, geolocation/1, consent/1 or rights/1), "
            "each validated on its own: an invalid event is rejected alone. Every event's "
            "user_id is the message key.",
        ),
    ]


def wrap(values: list[bytes]) -> bytes:
    """The envelope holding ``values`` (each one event's contract JSON), as message bytes."""
    return b'{"schema":"batch/1","events":[' + b",".join(values) + b"]}"


WRAP_OVERHEAD: Final = len(wrap([]))
"""Bytes of an envelope around its events (add one comma per event after the first)."""
