"""The faust app of the processors (wired like faust's examples/fastapi_project).

The app object lives here; agents, topics and tables live in :mod:`processors`. Settings
come from the environment when this module is imported (``privacy-pipeline worker`` sets
them up first).
"""

from __future__ import annotations

from typing import Any

import faust

from pipeline.observe.ports import worker_client_id
from pipeline.settings import Settings
from processors.context import TopicNames
from processors.worker.consumer import LeanTransport
from processors.worker.monitor import QuietMonitor

settings = Settings.from_env()
names = TopicNames(settings.topic_prefix)


def create_app(s: Settings, name: str = "privacy-pipeline") -> Any:
    """Build the faust app from settings (no agents yet: importing processors adds them).

    ``name`` (after the topic prefix) is the app id: the consumer group and changelog names.
    """
    faust_app = faust.App(
        f"{s.topic_prefix}{name}",
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
        # Names the worker and its metrics port in the group description (read by `status`).
        broker_client_id=worker_client_id(s),
    )
    faust_app.transport = LeanTransport(faust_app.conf.broker_consumer, faust_app)
    return faust_app


def run_worker(faust_app: Any, loglevel: str) -> None:
    """Run ``faust_app`` as a faust worker in this process until it is stopped."""
    from faust.worker import Worker

    runner = Worker(faust_app, loglevel=loglevel, quiet=True)
    # faust's start-up spinner sets the root logger to DEBUG, so every debug call in aiokafka
    # built a log record (5% of the worker's CPU); without it the root level is ``loglevel``.
    runner.spinner = None
    runner.execute_from_commandline()


app = create_app(settings)
