"""Every faust internal the worker shell relies on, checked against the installed faust.

The shell (``processors/worker/``) overrides or reads names faust does not promise to keep;
each is listed in ``processors/worker/__init__.py``. These tests build a real faust app
through the factory (never started: no broker) and assert what the shell assumes, so a faust
upgrade that changes one fails here instead of in a running worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import inspect
import weakref
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka
import faust
import pytest
from faust.sensors import Monitor
from faust.stores.base import SerializedStore
from faust.transport import conductor as faust_conductor
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from pipeline.settings import Settings
from processors.worker import Worker, create_app
from processors.worker.consumer import LeanConsumer
from processors.worker.monitor import QuietMonitor
from processors.worker.topics import RawBytes

UPSTREAM_LOOP_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
"""faust-streaming 0.15.3's ``Consumer._drain_messages``, which LeanConsumer replaces."""


def _params(fun: Any) -> list[str]:
    return list(inspect.signature(fun).parameters)


def test_the_fetch_loop_replaced_is_the_one_faust_s_fetcher_runs() -> None:
    base = faust_aiokafka.Consumer._drain_messages
    assert inspect.iscoroutinefunction(base)
    assert _params(base) == ["self", "fetcher"]
    assert LeanConsumer._drain_messages is not base
    assert _params(LeanConsumer._drain_messages) == _params(base)
    # faust's Fetcher service is what calls it, with itself as the argument.
    assert "await consumer._drain_messages(self)" in inspect.getsource(faust_consumer.Fetcher)


def test_the_upstream_fetch_loop_is_the_one_the_lean_loop_was_written_against() -> None:
    """A changed upstream loop may carry a fix LeanConsumer lacks: review
    ``processors/worker/consumer.py`` against the new one, then record its hash here."""
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_LOOP_SHA256


def test_the_transport_builds_the_lean_consumer(worker: Worker) -> None:
    assert isinstance(worker.app.consumer, LeanConsumer)


def test_read_offsets_default_to_none_per_partition(worker: Worker) -> None:
    read = worker.app.consumer._read_offset
    assert isinstance(read, defaultdict)
    tp = TP(worker.names.navigation, 1)
    assert read[tp] is None
    read[tp] = 9
    assert read[tp] == 9


def test_add_gap_records_an_inclusive_range_of_a_partition(worker: Worker) -> None:
    consumer = worker.app.consumer
    assert inspect.iscoroutinefunction(faust_consumer.Consumer._add_gap)
    assert _params(faust_consumer.Consumer._add_gap) == ["self", "tp", "offset_from", "offset_to"]
    tp = TP(worker.names.navigation, 2)
    asyncio.run(consumer._add_gap(tp, 4, 7))
    gap = consumer._gap[tp]
    assert all(gap.overlaps_point(o) for o in (4, 5, 6, 7))
    assert not gap.overlaps_point(3) and not gap.overlaps_point(8)


def test_commit_cadence_counts_acked_records(worker: Worker) -> None:
    consumer = worker.app.consumer
    assert consumer._n_acked == 0
    assert worker.app.conf.broker_commit_every == 5000  # set by processors.worker.app
    tp = TP(worker.names.navigation, 0)
    worker.app.topics._acking_topics.add(tp.topic)  # as subscribing the input channel does
    message = Message(topic=tp.topic, partition=0, offset=0, timestamp=0.0, timestamp_type=0,
                      headers=None, key=b"k", value=b"v", checksum=b"")
    assert consumer.ack(message) is True
    assert consumer._n_acked == 1


def test_flow_control_is_an_event_set_while_a_rebalance_runs(worker: Worker) -> None:
    consumer = worker.app.consumer
    assert isinstance(consumer.suspend_flow, asyncio.Event)
    consumer.stop_flow()
    assert consumer.suspend_flow.is_set()
    consumer.resume_flow()
    assert not consumer.suspend_flow.is_set()
    assert aiokafka.errors.ConsumerStoppedError in consumer.consumer_stopped_errors


def test_on_buffer_full_is_the_hook_the_conductor_calls() -> None:
    base = faust_consumer.Consumer.on_buffer_full
    assert _params(LeanConsumer.on_buffer_full) == _params(base) == ["self", "tp"]
    assert "app.consumer.on_buffer_full" in inspect.getsource(faust_conductor)


def test_the_conductor_indexes_assigned_partitions_to_channels_with_a_queue(
    worker: Worker,
) -> None:
    tp = TP(worker.names.consent, 0)
    channel = worker.inputs.clone(is_iterator=True, maxsize=8)

    async def assign() -> Any:
        conductor = worker.app.topics
        conductor.add(channel)
        await conductor._update_indices()
        await conductor.on_partitions_assigned({tp})
        return conductor

    conductor = asyncio.run(assign())
    assert conductor._tp_index.get(TP(worker.names.consent, 1), ()) == ()  # not assigned
    [indexed] = conductor._tp_index[tp]
    assert indexed is channel
    queue = indexed.queue
    assert (queue.maxsize, queue.qsize(), queue.full()) == (8, 0, False)
    for i in range(8):
        queue.put_nowait(i)
    assert queue.full() and queue.qsize() == 8
    assert conductor.acks_enabled_for(worker.names.consent)


class _Event:
    """Stands for an event where faust asks for ``.message.partition`` (weakly referenced)."""

    message = SimpleNamespace(partition=5)


def test_the_current_event_is_a_context_variable_of_a_weak_reference() -> None:
    from faust.streams import _current_event, current_event

    assert isinstance(_current_event, contextvars.ContextVar)
    stub = _Event()
    token = _current_event.set(weakref.ref(stub))  # type: ignore[arg-type]
    try:
        event: Any = current_event()
        assert event is stub
    finally:
        _current_event.reset(token)
    assert current_event() is None


def test_table_accesses_are_filed_under_the_partition_named(tmp_path: Path) -> None:
    """The rocksdb store and the changelog take the partition of "the current event"."""
    settings = Settings.from_env(
        {"PRIVACY_PIPELINE_WORKER_STORE": "rocksdb://", "PRIVACY_PIPELINE_DATA_DIR": str(tmp_path)}
    )
    consent = create_app(settings).tables.store_tables()[0]
    store = consent.table.data
    assert isinstance(store, SerializedStore)
    assert _params(SerializedStore._get) == ["self", "key"]
    sent: list[int] = []

    def send_soon(**kwargs: Any) -> Any:
        sent.append(kwargs["partition"])
        return SimpleNamespace(message=SimpleNamespace(partition=kwargs["partition"]))

    consent.table.changelog_topic.send_soon = send_soon

    async def scenario() -> None:
        consent.put(3, b"handle", b"state")

    asyncio.run(scenario())
    assert sent == [3]
    assert consent.get(3, b"handle") == b"state"
    assert consent.get(4, b"handle") is None  # another partition's database


def test_the_producer_of_the_changelog_metadata_is_aiokafka_s(worker: Worker) -> None:
    ensure = faust_aiokafka.Producer._ensure_producer
    assert _params(ensure) == ["self"]
    assert inspect.signature(ensure).return_annotation in (
        aiokafka.AIOKafkaProducer, "aiokafka.AIOKafkaProducer"
    )
    assert inspect.iscoroutinefunction(aiokafka.AIOKafkaProducer.partitions_for)
    assert isinstance(worker.app.producer, faust_aiokafka.Producer)


def test_the_app_state_the_timers_read(worker: Worker) -> None:
    assert worker.app.consumer_generation_id == 0  # no group joined yet
    assert worker.app.rebalancing is False


def test_the_worker_registers_its_agent_timers_and_tables(worker: Worker) -> None:
    app = worker.app
    assert list(app.agents) == ["processors.worker.agents.ingest"]
    assert app.agents["processors.worker.agents.ingest"] is worker.ingest
    # Timers are tasks called with no argument: faust passes the app only to a task whose
    # signature takes one, and a bound method of the worker takes none.
    assert len(app._app_tasks) == 3
    assert _params(worker.grace_tick) == []
    assert set(app.tables) == {"consent", "held", "held_event", "erased", "rights_audit",
                               "rights_audit_entry", "subject_keys"}


def test_two_workers_share_nothing() -> None:
    env = {"PRIVACY_PIPELINE_WORKER_STORE": "memory://"}
    one, two = create_app(Settings.from_env(env)), create_app(Settings.from_env(env))
    assert one.app is not two.app and one.metrics is not two.metrics
    assert one.tables.consent is not two.tables.consent


@pytest.mark.parametrize(
    "hook", ["on_message_in", "on_stream_event_in", "on_stream_event_out", "on_message_out",
             "on_table_get", "on_table_set", "on_table_del"],
)
def test_the_quiet_monitor_overrides_faust_s_hooks_as_declared(hook: str) -> None:
    assert _params(getattr(QuietMonitor, hook)) == _params(getattr(Monitor, hook))


def test_the_stall_check_reads_the_stream_inbound_time_the_monitor_keeps() -> None:
    assert isinstance(Monitor().stream_inbound_time, dict)
    assert "monitor.stream_inbound_time.get(tp)" in inspect.getsource(faust_aiokafka)


def test_the_raw_schema_overrides_faust_s_decoders_as_declared() -> None:
    for name in ("loads_key", "loads_value"):
        assert _params(getattr(faust.Schema, name))[:3] == ["self", "app", "message"]
    message = SimpleNamespace(key=b"k", value=b"v")
    schema = RawBytes(key_type=bytes, value_type=bytes)
    assert schema.loads_key(None, message) == b"k"
    assert schema.loads_value(None, message) == b"v"


def test_a_worker_s_on_stop_runs_before_its_app_and_tables_stop() -> None:
    """The worker freezes its heap in its ``on_stop`` (processors.worker.app) because faust's
    RocksDB store runs a full collection as it stops, after the worker's ``on_stop``."""
    from faust.stores import rocksdb
    from faust.worker import Worker as FaustWorker
    from mode import Service
    from mode.worker import Worker as ModeWorker

    stop = inspect.getsource(Service.stop)
    assert stop.index("await self.on_stop()") < stop.index("await self._stop_children()")
    assert "return self.services" in inspect.getsource(ModeWorker.on_init_dependencies)
    assert "on_stop" not in vars(FaustWorker) and "on_stop" not in vars(ModeWorker)
    assert "gc.collect()" in inspect.getsource(rocksdb.Store.stop)
