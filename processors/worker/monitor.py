"""faust's monitor without its per-record bookkeeping.

faust's :class:`~faust.sensors.Monitor` times every message in and out, every stream event
and every table access, a few microseconds each per record, for statistics only its web
pages show (the worker runs without them). This monitor keeps the rest of faust's sensor
(commit, rebalance, assignment and offset tracking, and the time each partition's stream last
took an event, which faust's stall check reads) and skips the other per-record hooks.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor


class QuietMonitor(Monitor):
    """A :class:`faust.sensors.Monitor` that records nothing per message or table access."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        """Skipped: per-record statistics."""

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        """Only the time the partition's stream last took an event.

        faust's consumer checks it to tell a stalled stream from an idle one; without it, a
        lagging partition is reported as "Stream has not started processing".
        """
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        """Skipped: per-record statistics."""

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        """Skipped: per-record statistics."""

    def on_table_get(self, table: Any, key: Any) -> None:
        """Skipped: per-access statistics."""

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        """Skipped: per-access statistics."""

    def on_table_del(self, table: Any, key: Any) -> None:
        """Skipped: per-access statistics."""
