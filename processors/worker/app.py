"""The faust app of the processors, built from a settings object (nothing at import time).

:func:`faust_app` configures faust itself; :func:`processors.worker.create_app` adds the
agent, timers and tables of the worker to it.
"""

from __future__ import annotations

import gc
from typing import Any

import faust

from pipeline.observe.ports import worker_client_id
from pipeline.settings import Settings
from pipeline.topics import TopicNames
from processors.worker.changelog import TrackedTable
from processors.worker.consumer import LeanTransport
from processors.worker.monitor import QuietMonitor


def faust_app(s: Settings, app_id: str | None = None) -> Any:
    """The bare faust app of the worker's settings: no agent, timer, topic or table yet.

    ``app_id`` is the consumer group and the stem of the changelog names: the worker group of
    :class:`~pipeline.topics.TopicNames` unless given (a benchmark's own group).
    """
    app = faust.App(
        app_id or TopicNames.from_settings(s).worker_group,
        broker=[f"kafka://{host}" for host in s.bootstrap_list],
        store=s.worker_store,
        datadir=str(s.data_dir / f"worker-{s.worker_id}"),
        topic_partitions=s.partitions,
        topic_replication_factor=1,
        # The worker never creates a topic: `privacy-pipeline topics` creates every one (the
        # tables' changelogs too) with the right partition count and cleanup policy, and the
        # worker's preflight refuses to start without them. Nor a leader-election topic: no
        # timer or task of the worker runs ``on_leader``.
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        table_standby_replicas=0,
        web_enabled=False,
        stream_wait_empty=False,
        autodiscover=False,
        broker_commit_every=5000,
        # A worker killed without goodbye is replaced after this long (faust's default: 60 s).
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        producer_linger=0.005,
        broker_commit_interval=1.0,
        Monitor=QuietMonitor,
        # Every table keeps its changelog writes' futures: a batch is durable once Kafka
        # acknowledged them (processors.worker.changelog), not once faust's flush returned.
        Table=TrackedTable,
        # Names the worker and its metrics port in the group description (read by `status`).
        broker_client_id=worker_client_id(s),
    )
    app.transport = LeanTransport(app.conf.broker_consumer, app)
    return app


GC_THRESHOLDS = (50_000, 10, 10)
"""The worker's collector thresholds (CPython's: 700, 10, 10). A batch allocates hundreds of
thousands of short-lived objects (records, dicts, tokens); at 700 the young generation was
collected every few events. The older generations keep CPython's ratios (10, 10): higher
ones let cyclic garbage (failed batches' tracebacks with their records) pile up for hours."""


def tune_gc() -> None:
    """Collect less often, and never walk what start-up built again (:data:`GC_THRESHOLDS`).

    ``gc.freeze`` moves the objects alive now (modules, the app's declarations) out of
    every later collection. Cyclic garbage waits longer to be freed; the thresholds bound it
    by allocations, as before, only higher.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_worker(app: Any, loglevel: str) -> None:
    """Run the faust ``app`` as a faust worker in this process until it is stopped."""
    from faust.worker import Worker

    tune_gc()

    class Runner(Worker):
        async def on_stop(self) -> None:
            # faust's RocksDB store calls gc.collect() as it stops, once per table: full walks
            # of the heap (1.4 s of CPU after a 200,000-event bench). This runs before the app
            # and its tables stop (pinned in test_faust_internals); frozen, nothing is walked,
            # and nothing needs freeing: the process is exiting.
            gc.freeze()
            await super().on_stop()

    runner = Runner(app, loglevel=loglevel, quiet=True)
    # faust's start-up spinner sets the root logger to DEBUG, so every debug call in aiokafka
    # built a log record (5% of the worker's CPU); without it the root level is ``loglevel``.
    runner.spinner = None
    runner.execute_from_commandline()
