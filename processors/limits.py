"""Per-user bounds on the worker's state, whatever the input.

One user (or one holder of an app key writing as any user) must not be able to grow a table
value past what Kafka accepts as one changelog message, nor make a single input cost a rewrite
of an unbounded value. These are the bounds; :mod:`processors.store` and
:mod:`processors.held` enforce them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.exceptions import StateTooLarge

KIB = 1024


@dataclass(frozen=True)
class Limits:
    """Bounds of the per-user state (see the ``worker_*`` settings for each one's meaning)."""

    held_max_events: int = 1000
    """Most events of one user held in the grace window; later ones are decided at once."""
    held_max_bytes: int = 256 * KIB
    """Most raw event bytes of one user held in the grace window."""
    history_max: int = 16
    """Most consent changes kept per user and purpose (inside the lateness window)."""
    audit_max: int = 100
    """Most rights requests kept in one subject's audit trail (older ones are counted)."""
    value_max_bytes: int = 512 * KIB
    """Largest table key + value written: well under the broker's 1 MiB message limit."""

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """The limits a worker's settings ask for."""
        return cls(
            held_max_events=settings.worker_held_max_events,
            held_max_bytes=settings.worker_held_max_bytes,
            history_max=settings.worker_history_max,
            audit_max=settings.worker_audit_max,
            value_max_bytes=settings.worker_value_max_bytes,
        )


def check_size(table: str, key: bytes, value: bytes, bound: int) -> None:
    """Raise :class:`StateTooLarge` when ``key`` + ``value`` would exceed ``bound`` bytes.

    Called before every table write: a changelog message the broker would refuse must never be
    produced (it would fail the batch, and every retry, for good).
    """
    size = len(key) + len(value)
    if size > bound:
        raise StateTooLarge(table, size, bound)
