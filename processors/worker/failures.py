"""Which failures of a batch are worth retrying: Kafka's errors sorted at the boundary.

A record Kafka refuses for good (too large, corrupt, invalid) fails every retry the same way:
retrying it stops the worker for good, and so does exiting (a restart reads it again). Such a
failure is *permanent*: the input record behind it is dead-lettered and the worker moves on.
Broker or network trouble is *transient*: retried. Anything else is a bug: *fatal*, the
process exits before any commit and the batch is decided again after the restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import aiokafka.errors as aioerrors
import kafka.errors as kerrors

from processors.exceptions import OutputTooLarge, StateTooLarge

Kind = Literal["permanent", "transient", "fatal"]

PERMANENT: tuple[type[BaseException], ...] = (
    StateTooLarge,
    OutputTooLarge,
    aioerrors.MessageSizeTooLargeError,
    aioerrors.RecordTooLargeError,
    aioerrors.RecordListTooLargeError,
    aioerrors.CorruptRecordException,
    aioerrors.InvalidMessageError,
    aioerrors.InvalidTimestampError,
    kerrors.MessageSizeTooLargeError,
    kerrors.RecordListTooLargeError,
    kerrors.CorruptRecordError,
    kerrors.CorruptRecordException,
    kerrors.InvalidRecordError,
    kerrors.InvalidTimestampError,
)
"""Errors about one record itself: the same record fails the same way every time."""

TRANSIENT: tuple[type[BaseException], ...] = (
    aioerrors.KafkaError,
    kerrors.KafkaError,
    OSError,  # includes TimeoutError and connection errors
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes: faust wraps Kafka's errors (``ProducerSendError`` from ...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException) -> Kind:
    """``permanent``, ``transient`` or ``fatal`` (see the module docstring)."""
    chain = list(_chain(exc))
    if any(isinstance(e, PERMANENT) for e in chain):
        return "permanent"
    if any(isinstance(e, TRANSIENT) for e in chain):
        return "transient"
    return "fatal"


def reason_of(exc: BaseException) -> str:
    """An id-free reason for a dead letter: the error class Kafka answered with."""
    chain = list(_chain(exc))
    first = next((e for e in chain if isinstance(e, PERMANENT)), exc)
    if isinstance(first, StateTooLarge | OutputTooLarge):
        return str(first)
    return f"output refused by Kafka for good: {type(first).__name__}"
