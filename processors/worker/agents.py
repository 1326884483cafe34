"""The worker's agent and timer: faust delivers batches, the engine decides them."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from aiokafka.errors import KafkaError as AIOKafkaError
from kafka.errors import KafkaError

from processors.context import Runtime
from processors.engine import Engine
from processors.exceptions import RetriesExhausted
from processors.limits import Limits
from processors.messages import Msg, subject_verified
from processors.metrics import METRICS
from processors.outbox import Outbox
from processors.store import Store
from processors.subjectkeys import SubjectKeys
from processors.worker import tables
from processors.worker.app import app, names, settings
from processors.worker.failures import classify, reason_of
from processors.worker.fence import KafkaFence
from processors.worker.retry import Backoff
from processors.worker.topics import inputs, output
from processors.worker.watchdog import StallWatch

log = logging.getLogger(__name__)

_engine: Engine | None = None
_fence: KafkaFence | None = None
_outputs: dict[str, Any] = {}
_BACKOFF = Backoff()
_metadata_ready = False
_generation: Any = None
_TRACE = bool(os.environ.get("PRIVACY_PIPELINE_TRACE_BATCHES"))
_TRANSIENT = (KafkaError, AIOKafkaError, OSError)


async def _send(topic: str, partition: int, value: bytes | None, key: bytes | None = None) -> Any:
    if value is None:
        # A tombstone: straight to the producer (faust's raw serializer has no null value).
        return await app.producer.send(topic, key, None, partition, None, None)
    if topic not in _outputs:
        _outputs[topic] = output(topic)
    return await _outputs[topic].send(value=value, partition=partition)


def _runtime() -> Runtime:
    import keys
    from pipeline.policy import load_policy

    policy = load_policy(settings.policy)
    ring = keys.open_keyring(settings, policy.key_specs())
    return Runtime(policy=policy, ring=ring, names=names, partitions=settings.partitions)


def engine() -> Engine:
    """The worker's engine, built on first use (policy, keyring, fence).

    Positions, caches and the held-event index are per assignment: when the consumer
    generation changed (a rebalance happened), the engine starts them afresh.
    """
    global _engine, _fence, _generation
    generation = app.consumer_generation_id
    if _engine is not None and generation != _generation:
        log.info("rebalanced (generation %s): engine positions reset", generation)
        _engine.reset()
    _generation = generation
    if _engine is None:
        _fence = KafkaFence(settings.bootstrap_servers, app.conf.id)
        store = Store(*tables.store_tables(), limits=Limits.from_settings(settings))
        rt = _runtime()
        subject_keys = SubjectKeys(rt.ring, tables.subject_keys_table())
        _engine = Engine(rt, store, Outbox(_send), _fence, subject_keys, durable=_tables_durable)
    return _engine


@app.agent(inputs)  # type: ignore[untyped-decorator]
async def ingest(stream: Any) -> None:
    """Decide every input record, a batch at a time."""
    async for events in stream.take_events(settings.worker_batch, within=0.1):
        owned = _owned(events)
        batch = [
            Msg(
                e.message.topic,
                e.message.partition,
                e.message.offset,
                e.message.key,
                e.message.value,
                subject_verified(e.message.headers),
            )
            for e in owned
        ]
        t0 = time.perf_counter()
        await _process(batch)
        elapsed = time.perf_counter() - t0
        consents = [e.message.timestamp for e in owned
                    if e.message.topic == names.consent and e.message.timestamp]
        METRICS.batch(len(batch), elapsed, consents)
        _observe_engine()
        if _TRACE:
            log.warning("batch %d records in %.1f ms", len(batch), elapsed * 1000)


def _observe_engine() -> None:
    if _engine is not None:
        METRICS.tally(_engine.counts)
        METRICS.held.set(_engine.held_count)


def _owned(events: list[Any]) -> list[Any]:
    """The events of partitions this worker is assigned now.

    A batch taken before a rebalance may hold records of partitions revoked since: their new
    owner decides them from the committed offset (faust never commits a revoked partition),
    and deciding them here too would write this worker's stale consent state to a changelog
    the new owner already recovered.
    """
    assignment = app.consumer.assignment()
    owned = [e for e in events if e.message.tp in assignment]
    if len(owned) != len(events):
        log.info("dropped %d records of revoked partitions", len(events) - len(owned))
    return owned


async def _changelogs_known() -> None:
    """Wait until the producer knows every changelog topic's partitions.

    Table writes are partitioned by key, which needs the topic's metadata; right after
    faust declared a changelog topic the producer may not have it yet.
    """
    global _metadata_ready
    producer = app.producer._ensure_producer()
    # Every batch: a metadata refresh made while another worker was still creating the
    # changelogs can drop a topic the producer knew. A known topic costs no request.
    every = (tables.consent, tables.held, tables.erased, tables.audit, tables.held_events,
             tables.audit_entries, tables.subject_keys)
    for table in every:
        await producer.partitions_for(table.changelog_topic.get_topic_name())
    _metadata_ready = True


async def _tables_durable() -> None:
    """Wait until Kafka acknowledged every table write made so far.

    Table writes go to their changelogs through faust's producer buffer, which a commit does
    not wait for: without this, a kill -9 after the commit could lose the consent state of
    records the group counts as handled.
    """
    await app.producer.flush()


async def _process(batch: list[Msg]) -> None:
    """Decide one batch; retry transient failures, never let a batch be acked undecided.

    faust acks a ``take_events`` batch even when the loop body raises, so an error escaping
    here would lose the batch at the next commit. Transient broker trouble is retried; if it
    persists the process exits at once (before any commit) and the batch is read again. A
    permanent failure (Kafka refuses a record for good) is narrowed down to its input record,
    which is dead-lettered (:func:`_isolate`): no input can stop the worker.
    """
    try:
        await _BACKOFF.run("batch", lambda: _attempt(batch),
                           lambda exc: _isolate(batch, exc), _batch_retry)
    except RetriesExhausted as exc:
        log.critical("%s; exiting so that it is processed again", exc)
        os._exit(70)
    except Exception:
        log.exception("batch failed; exiting so that it is processed again after restart")
        os._exit(70)


def _batch_retry(exc: BaseException) -> None:
    METRICS.liveness.fail("kafka_retrying")
    if _engine is not None:
        # Outputs of a failed flush may be lost: forget positions, so the retry
        # decides the batch again from the committed offsets (the sink de-duplicates).
        _engine.reset()


async def _attempt(batch: list[Msg]) -> None:
    await _changelogs_known()
    eng = engine()
    eng.rt.ring.refresh_if_due()
    await eng.process(batch)
    await _tables_durable()
    METRICS.liveness.beat()
    METRICS.liveness.contact()


async def _isolate(batch: list[Msg], exc: BaseException) -> None:
    """Decide a batch Kafka refused part of one record at a time; dead-letter the culprits.

    The batch is decided again from the committed offsets (outputs of the failed attempt are
    dropped, the sink removes any sent twice), each record flushed on its own, so a refusal
    names its input. Each record is tried a bounded number of times: no loop. A fatal or
    persistent failure raises, and :func:`_process` exits.
    """
    log.warning("batch refused for good (%s); deciding it record by record", type(exc).__name__)
    eng = engine()
    eng.outbox.discard()
    eng.reset()
    for m in batch:
        await _one(eng, m)


async def _one(eng: Engine, m: Msg) -> None:
    async def attempt() -> None:
        await eng.process([m])
        await _tables_durable()

    async def reject(exc: BaseException) -> None:
        await _reject(eng, m, exc)

    await _BACKOFF.run("record", attempt, reject)


async def _reject(eng: Engine, m: Msg, exc: BaseException) -> None:
    reason = reason_of(exc)
    log.warning("input %s dead-lettered: %s", m.source, reason)
    eng.reject(m, reason)

    async def flush() -> None:
        await eng.outbox.flush()
        await _tables_durable()

    async def refused(again: BaseException) -> None:
        # The dead letter itself refused (it is bounded: not expected). The record
        # stays handled; never retried forever.
        eng.outbox.discard()
        log.error("dead letter of input %s refused (%s)", m.source, type(again).__name__)

    await _BACKOFF.run("dead letter", flush, refused)


@app.timer(interval=0.5)  # type: ignore[untyped-decorator]
async def grace_tick() -> None:
    """Decide held events whose grace window ended, even when no new input arrives."""
    if app.rebalancing or not _metadata_ready:
        METRICS.liveness.beat()  # joining the group or not assigned yet: the loop is alive
        return
    try:
        await _changelogs_known()
        await engine().tick()
        METRICS.liveness.beat()
        _observe_engine()
    except Exception as exc:  # a timer that raises stops the worker: the next tick retries
        kind = classify(exc)
        if kind == "fatal":
            raise
        if kind == "permanent":
            # Outputs of held events refused for good (bounded, so not expected): dropped,
            # or every later tick would fail on them again.
            dropped = _engine.outbox.discard() if _engine is not None else 0
            log.error("grace tick refused for good (%s); %d outputs dropped",
                      type(exc).__name__, dropped)
            return
        METRICS.liveness.fail("kafka_retrying")
        log.warning("grace tick failed (%s); retrying at the next tick", type(exc).__name__)


_PROBE_TIMEOUT_S = 4.0


@app.timer(interval=5.0)  # type: ignore[untyped-decorator]
async def lag_gauge() -> None:
    """Lag per assigned input partition; the end-offset request doubles as the health probe."""
    if app.rebalancing or _engine is None or _fence is None:
        return
    inputs_ = (names.navigation, names.geolocation, names.consent)
    assigned = {(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in inputs_}
    try:
        ends: dict[tuple[str, int], int] = {}
        for topic in inputs_:
            # No partition assigned: still ask for one, so that health reflects the broker.
            parts = sorted(p for t, p in assigned if t == topic) or ([0] if not assigned else [])
            if parts:
                got = await asyncio.wait_for(_fence.peek_ends(topic, parts), _PROBE_TIMEOUT_S)
                ends.update({(topic, p): e for p, e in got.items() if (topic, p) in assigned})
        METRICS.liveness.contact()
        await METRICS.refresh_lag(ends, _engine.next_offset)
    except (*_TRANSIENT, TimeoutError) as exc:
        METRICS.liveness.fail("kafka_unreachable")
        log.warning("lag probe failed (%s); retrying in 5 s", type(exc).__name__)


_watch = StallWatch()


@app.timer(interval=10.0)  # type: ignore[untyped-decorator]
async def stall_watchdog() -> None:
    """Resume and re-seek an input partition that has records waiting but gets none."""
    if app.rebalancing:
        return
    try:
        await _check_stalls()
    except _TRANSIENT as exc:  # a timer that raises stops the worker: the next check retries
        log.warning("stall check failed (%s); retrying at the next check", type(exc).__name__)


async def _check_stalls() -> None:
    # A worker whose partitions never delivered anything has no engine yet: build it here.
    await _changelogs_known()
    eng = engine()
    fence = _fence
    assert fence is not None  # noqa: S101 - built with the engine
    inputs_ = {names.navigation, names.geolocation, names.consent}
    assigned = [(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in inputs_]

    async def end(topic: str, partition: int) -> int:
        return (await fence.end_offsets(topic, [partition]))[partition]

    async def handled(topic: str, partition: int) -> int:
        return await eng.next_offset(topic, partition)

    for topic, partition, offset in await _watch.stalled(assigned, end, handled):
        tp = next(
            t for t in app.consumer.assignment() if t.topic == topic and t.partition == partition
        )
        log.warning(
            "input partition %s[%d] stalled; resuming at offset %d", topic, partition, offset
        )
        app.consumer.resume_partitions([tp])
        await app.consumer.seek(tp, offset)


@app.on_partitions_revoked.connect  # type: ignore[untyped-decorator]
async def _on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
    # Positions and the held-event index are per assignment: rebuilt after a rebalance.
    if _engine is not None:
        _engine.reset()


@app.on_after_configured.connect  # type: ignore[untyped-decorator]
def _configured(sender: Any, **kwargs: Any) -> None:
    log.info("privacy-pipeline worker configured (prefix=%r)", settings.topic_prefix)
