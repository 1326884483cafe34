"""The sink's metrics: records and batches committed, offsets, rate, publication age."""

from __future__ import annotations

import threading
from pathlib import Path

from kafka import TopicPartition
from prometheus_client import generate_latest
from test_sink_runner import TOPIC, ListSource, _poll, _sink

from pipeline.observe.scrape import parse
from pipeline.sink.config import ShardSpec
from pipeline.sink.metrics import RATE_WINDOW_S, SinkMetrics
from pipeline.sink.source import KafkaSource


def _samples(metrics: SinkMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(n, tuple(sorted(lb.items()))): v for n, lb, v in parse(text)}


def test_a_run_moves_the_counters_and_publishes(tmp_path: Path) -> None:
    metrics = SinkMetrics("0/1", "pipeline.decisions.v1")
    assert _samples(metrics)[("sink_publication_age_seconds", ())] == -1
    sink, _ = _sink(tmp_path, ListSource([_poll(0, 30, 6), _poll(30, 20, 6)]), metrics=metrics)
    stats = sink.run(threading.Event(), until_idle=0.5)
    s = _samples(metrics)
    assert s[("sink_records_total", ())] == stats.records == 50
    assert s[("sink_new_records_total", ())] == 50
    assert s[("sink_publications_total", ())] == stats.publications >= 2
    assert 0 <= s[("sink_publication_age_seconds", ())] < 5
    assert s[("sink_offset", (("partition", "0"), ("topic", TOPIC)))] == 50
    assert metrics.liveness.check() == (True, "ok")


def test_offsets_held_by_the_database_are_exposed_at_start(tmp_path: Path) -> None:
    sink, conn = _sink(tmp_path, ListSource([_poll(0, 12, 3)]))
    sink.run(threading.Event(), until_idle=0.3)
    conn.close()
    metrics = SinkMetrics("0/1", "pipeline.decisions.v1")
    _sink(tmp_path, ListSource([]), metrics=metrics)  # a restart, before any batch
    assert _samples(metrics)[("sink_offset", (("partition", "0"), ("topic", TOPIC)))] == 12


def test_rate_is_measured_over_its_window() -> None:
    now = [0.0]
    metrics = SinkMetrics("0/1", "d", clock=lambda: now[0])
    metrics.committed(300, 300, 0, 0, {})
    assert _samples(metrics)[("sink_records_per_second", ())] == 0
    now[0] = RATE_WINDOW_S
    metrics.committed(200, 150, 50, 0, {})
    assert _samples(metrics)[("sink_records_per_second", ())] == 500 / RATE_WINDOW_S
    metrics.set_lag({("t", 0): 4, ("t", 1): 0})
    metrics.set_lag({("t", 1): 2})
    lags = {lb: v for (n, lb), v in _samples(metrics).items() if n == "sink_consumer_lag"}
    assert lags == {(("partition", "1"), ("topic", "t")): 2}


class _Consumer:
    """What KafkaSource asks of kafka-python: partitions, assignment, seeks, highwaters."""

    def __init__(self, highwaters: dict[int, int | None]) -> None:
        self.highwaters = highwaters
        self.requests_allowed = True
        """Assignment reads the backlog's end offsets once; known_lags must not."""

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.highwaters)

    def assign(self, tps: list[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        pass

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp.partition]

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        if not self.requests_allowed:
            raise AssertionError("known_lags must not send a request")
        return {tp: 0 for tp in tps}


def test_known_lags_send_no_request_and_leave_unknowns_out() -> None:
    consumer = _Consumer({0: 10, 1: None, 2: 7})
    source = KafkaSource(consumer, ["t"], ShardSpec(), {("t", 0): 4, ("t", 1): 3})
    source.refresh()
    consumer.requests_allowed = False
    assert source.known_lags() == {("t", 0): 6}  # 1: not fetched yet; 2: never committed
