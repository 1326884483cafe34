"""Simulated messages as the collector sends them: a user's events of a batch in one envelope.

The collector writes the events of one request that share a ``user_id`` as one envelope
(DESIGN.md section 3); the simulator stands for it, so the events of one production batch with
the same topic and key travel together, in their order, within the envelope limits (500
events, 1 MiB). Malformed messages stay single: they are the fuzz corpus, and an envelope of
them would test the envelope, not the event. Production order between batches is untouched,
and so is each user's order within a topic: the ground truth does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.simulator.traffic import Message
from schemas.envelope import MAX_ENVELOPE_EVENTS, PACK_MAX_BYTES, WRAP_OVERHEAD, wrap


@dataclass(frozen=True, slots=True)
class Packed:
    """One Kafka message to send and how many events it carries."""

    message: Message
    events: int


def pack(batch: Sequence[Message]) -> list[Packed]:
    """The messages of one production batch, a (topic, key) group's events in one envelope.

    A group is emitted where its first event was; a group of one stays the plain message.
    """
    groups: dict[tuple[str, bytes], list[list[Message]]] = {}
    out: list[list[Message]] = []
    sizes: dict[tuple[str, bytes], int] = {}
    for msg in batch:
        if msg.malformed is not None:
            out.append([msg])
            continue
        group = (msg.topic, msg.key)
        chunks = groups.get(group)
        size = sizes.get(group, WRAP_OVERHEAD - 1) + 1 + len(msg.value)
        if chunks is None or len(chunks[-1]) >= MAX_ENVELOPE_EVENTS or size > PACK_MAX_BYTES:
            chunks = groups.setdefault(group, [])
            chunks.append([])
            out.append(chunks[-1])
            size = WRAP_OVERHEAD + len(msg.value)
        chunks[-1].append(msg)
        sizes[group] = size
    return [_packed(messages) for messages in out]


def _packed(messages: list[Message]) -> Packed:
    first = messages[0]
    if len(messages) == 1:
        return Packed(first, 1)
    value = wrap([m.value for m in messages])
    stamp = max(m.timestamp_ms for m in messages)
    return Packed(Message(first.topic, first.key, value, stamp, first.batch), len(messages))
