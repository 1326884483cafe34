"""Fault injection: the broker itself stops and comes back while the pipeline runs.

The suite's shared broker is never touched: this test starts a private one (free ports, data
under ``tmp_path``), runs a worker and a long-running sink against it, and stops and restarts
that broker in the middle of the traffic.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import broker
from pipeline.bench.watch import DecisionWatcher
from pipeline.settings import Settings
from pipeline.topics import DECISIONS
from tests.integration.pipeline_harness import (
    expected_inputs,
    pipeline_env,
    run_sink,
    worker_alive,
)
from tests.integration.test_broker_lifecycle import private
from tests.integration.test_faults import SEED, assert_equal_to_truth, send, simulate, truth

WAIT_S = 300.0


@pytest.mark.timeout(600)
def test_broker_stopped_and_restarted_during_a_run(settings: Settings, tmp_path: Path) -> None:
    """Injected: `privacy-pipeline broker stop` of the (private) broker once a third of the
    first half of the traffic was decided, 3 s down, `broker start` again, then the second
    half; the worker and the sink run throughout and are not restarted. Compared: the sink's
    aggregates (all six tables, before and after the k-threshold) with the ground truth."""
    mine = private(settings, tmp_path / "broker")
    broker.start(mine)
    try:
        with pipeline_env(tmp_path, mine) as env:
            env.env["PRIVACY_PIPELINE_WORKER_BATCH"] = "100"
            env.env["PRIVACY_PIPELINE_SINK_PUBLISH_INTERVAL_S"] = "1"
            now = datetime.now(UTC)
            traffic = simulate(now, SEED + 10)
            batches = list(traffic.batches())
            first = [m for b in batches[: len(batches) // 2] for m in b]
            second = [m for b in batches[len(batches) // 2 :] for m in b]
            ids, invalid = expected_inputs(traffic.messages, env)
            with DecisionWatcher(env.settings, env.topic(DECISIONS)) as watcher:
                worker = env.start("worker", "--id", "1", log_name="worker-1")
                sink = env.start("sink", "--log-level", "warning", log_name="sink")
                alive = worker_alive(env, worker, sink)
                send(env, first, traffic.config)
                deadline = time.monotonic() + WAIT_S
                third = len(expected_inputs(first, env)[0]) // 3
                while watcher.decided() < third:
                    assert alive() is None and time.monotonic() < deadline, alive()
                    time.sleep(0.02)
                assert broker.stop(mine).pid is not None
                time.sleep(3)
                broker.start(mine)
                send(env, second, traffic.config)
                watcher.wait(ids, invalid, WAIT_S, alive)
            sink.send_signal(signal.SIGTERM)  # finish the batch in flight, publish, exit 0
            assert sink.wait(timeout=60) == 0, env.log_text("sink")[-3000:]
            run_sink(env)
            assert_equal_to_truth(env, truth(traffic.messages, now))
    finally:
        broker.stop(mine)
