"""The worker's metrics: decisions tallied from the engine, held events, batches, lag."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from prometheus_client import generate_latest

from pipeline.observe.scrape import parse
from processors.metrics import WorkerMetrics

NAV = "app.navigation.v1"


def _samples(metrics: WorkerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(n, tuple(sorted(lb.items()))): v for n, lb, v in parse(text)}


def _decisions(metrics: WorkerMetrics, stream: str, purpose: str, outcome: str) -> float:
    key = (("outcome", outcome), ("purpose", purpose), ("stream", stream))
    return _samples(metrics).get(("worker_decisions_total", key), 0.0)


def test_engine_decisions_and_held_events_reach_the_metrics(harness: Any, nav: Any) -> None:
    metrics = WorkerMetrics()
    harness.run(harness.produce(NAV, nav("e1", "u1", 0)), harness.produce(NAV, nav("e2", "u2", 0)))
    metrics.tally(harness.engine.counts)
    metrics.held.set(harness.engine.held_count)
    assert _samples(metrics)[("worker_held_events", ())] == 2
    assert _decisions(metrics, "navigation", "audience_measurement", "dropped_no_consent") == 0
    harness.tick(advance_s=40)  # the grace window ends: default deny
    metrics.tally(harness.engine.counts)
    metrics.held.set(harness.engine.held_count)
    assert _decisions(metrics, "navigation", "audience_measurement", "dropped_no_consent") == 2
    assert _samples(metrics)[("worker_held_events", ())] == 0
    metrics.tally(harness.engine.counts)  # no new decision: nothing added twice
    assert _decisions(metrics, "navigation", "audience_measurement", "dropped_no_consent") == 2


def test_a_restarted_tally_is_counted_from_zero() -> None:
    metrics = WorkerMetrics()
    metrics.tally(Counter({("navigation", "advertising", "kept"): 5}))
    metrics.tally(Counter({("navigation", "advertising", "kept"): 2}))
    assert _decisions(metrics, "navigation", "advertising", "kept") == 7


def test_batch_size_duration_and_consent_effect_lag() -> None:
    metrics = WorkerMetrics()
    metrics.batch(120, 0.03, [time.time() - 2.0, time.time() - 0.2])
    s = _samples(metrics)
    assert s[("worker_batch_records_count", ())] == 1 and s[("worker_batch_records_sum", ())] == 120
    assert s[("worker_batch_seconds_sum", ())] == 0.03
    assert s[("worker_consent_effect_seconds_count", ())] == 2
    assert 2.2 <= s[("worker_consent_effect_seconds_sum", ())] < 3.0


def test_lag_gauge_covers_assigned_partitions_only() -> None:
    metrics = WorkerMetrics()

    async def handled(topic: str, partition: int) -> int:
        return {0: 7, 1: 3}[partition]

    asyncio.run(metrics.refresh_lag({(NAV, 0): 10, (NAV, 1): 3}, handled))
    lags = {lb: v for (n, lb), v in _samples(metrics).items() if n == "worker_consumer_lag"}
    assert lags == {(("partition", "0"), ("topic", NAV)): 3,
                    (("partition", "1"), ("topic", NAV)): 0}
    asyncio.run(metrics.refresh_lag({(NAV, 1): 3}, handled))  # partition 0 revoked
    lags = {lb: v for (n, lb), v in _samples(metrics).items() if n == "worker_consumer_lag"}
    assert list(lags) == [(("partition", "1"), ("topic", NAV))]


def test_labels_never_carry_event_values(harness: Any, nav: Any) -> None:
    metrics = WorkerMetrics()
    harness.run(harness.produce(NAV, nav("evt-secret", "user-secret", -5)))
    harness.tick(advance_s=40)
    metrics.tally(harness.engine.counts)
    text = generate_latest(metrics.registry).decode()
    assert "user-secret" not in text and "evt-secret" not in text
    assert "worker_decisions_total" in text
