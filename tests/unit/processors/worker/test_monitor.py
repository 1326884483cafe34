"""The worker's faust monitor: what it still records per record, and what it skips."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from processors.worker.monitor import QuietMonitor


def test_the_stream_time_faust_checks_for_stalls_is_kept() -> None:
    monitor = QuietMonitor()
    tp = TP("app.navigation.v1", 3)
    monitor.on_stream_event_in(tp, 7, SimpleNamespace(), SimpleNamespace())
    assert tp in monitor.stream_inbound_time


def test_per_record_statistics_are_not_kept() -> None:
    monitor = QuietMonitor()
    tp = TP("app.navigation.v1", 3)
    message = SimpleNamespace()
    monitor.on_message_in(tp, 7, message)
    monitor.on_stream_event_in(tp, 7, SimpleNamespace(), SimpleNamespace())
    monitor.on_message_out(tp, 7, message)
    assert monitor.messages_received_total == 0
    assert monitor.events_total == 0
    assert not hasattr(message, "time_in")
