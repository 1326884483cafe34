"""The worker's agent and timers: faust delivers batches, the engine decides them.

A :class:`Worker` holds one faust app and everything the agent and timers share (engine,
fence, outputs, consumer generation): attributes of the instance, never module globals, so
two workers (or two tests) in one process share nothing.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from pipeline.settings import Settings
from pipeline.topics import TopicNames
from processors.context import Runtime
from processors.engine import Engine
from processors.exceptions import RetriesExhausted
from processors.limits import Limits
from processors.messages import Msg, subject_verified
from processors.metrics import WorkerMetrics
from processors.outbox import Outbox
from processors.store import Store
from processors.subjectkeys import SubjectKeys
from processors.worker.app import faust_app
from processors.worker.changelog import acknowledged, refused
from processors.worker.failures import TRANSIENT, classify, reason_of
from processors.worker.fence import KafkaFence
from processors.worker.probes import refresh_lag, resume_stalled
from processors.worker.retry import Backoff
from processors.worker.settle import Settle
from processors.worker.tables import declare_tables
from processors.worker.topics import input_topic, output
from processors.worker.watchdog import StallWatch

log = logging.getLogger(__name__)



def owned(events: list[Any], assignment: Any) -> list[Any]:
    """The events of partitions in ``assignment`` (the worker's now).

    A batch taken before a rebalance may hold records of partitions revoked since: their new
    owner decides them from the committed offset (faust never commits a revoked partition),
    and deciding them here too would write this worker's stale consent state to a changelog
    the new owner already recovered.
    """
    kept = [e for e in events if e.message.tp in assignment]
    if len(kept) != len(events):
        log.info("dropped %d records of revoked partitions", len(events) - len(kept))
    return kept


class Worker:
    """One faust app with the worker's agent, timers and tables registered on it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = TopicNames.from_settings(settings)
        self.app: Any = faust_app(settings)
        self.metrics = WorkerMetrics()
        self.tables = declare_tables(self.app, settings, self.names)
        self.inputs: Any = input_topic(self.app, self.names)
        self._engine: Engine | None = None
        self._fence: KafkaFence | None = None
        self._outputs: dict[str, Any] = {}
        self._backoff = Backoff()
        self._metadata_ready = False
        self._generation: Any = None
        self._trace = bool(os.environ.get("PRIVACY_PIPELINE_TRACE_BATCHES"))
        self._watch = StallWatch()
        self._settle = Settle(lambda: bool(self.app.rebalancing))
        app = self.app
        self.ingest: Any = app.agent(self.inputs, name=f"{__name__}.ingest")(self._ingest)
        app.timer(interval=0.5, name=f"{__name__}.grace_tick")(self.grace_tick)
        app.timer(interval=5.0, name=f"{__name__}.lag_gauge")(self.lag_gauge)
        app.timer(interval=10.0, name=f"{__name__}.stall_watchdog")(self.stall_watchdog)
        app.on_partitions_revoked.connect(self._on_revoked)

    async def _send(
        self, topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> Any:
        if value is None:
            # A tombstone: straight to the producer (faust's raw serializer has no null value).
            return await self.app.producer.send(topic, key, None, partition, None, None)
        if topic not in self._outputs:
            self._outputs[topic] = output(self.app, topic)
        return await self._outputs[topic].send(value=value, partition=partition)

    def _runtime(self) -> Runtime:
        import keys
        from pipeline.policy import load_policy

        settings = self.settings
        policy = load_policy(settings.policy)
        ring = keys.open_keyring(settings, policy.key_specs())
        return Runtime(policy=policy, ring=ring, names=self.names, partitions=settings.partitions)

    def engine(self) -> Engine:
        """The worker's engine, built on first use (policy, keyring, fence).

        Positions, caches and the held-event index are per assignment: when the consumer
        generation changed (a rebalance happened), the engine starts them afresh.
        """
        generation = self.app.consumer_generation_id
        if self._engine is not None and generation != self._generation:
            log.info("rebalanced (generation %s): engine positions reset", generation)
            self._engine.reset()
        self._generation = generation
        if self._engine is None:
            self._fence = KafkaFence(self.settings.bootstrap_servers, self.names.worker_group,
                                     self.metrics)
            store = Store(*self.tables.store_tables(), limits=Limits.from_settings(self.settings))
            rt = self._runtime()
            subject_keys = SubjectKeys(rt.ring, self.tables.subject_keys_table())
            self._engine = Engine(rt, store, Outbox(self._send), self._fence, subject_keys,
                                  durable=self._tables_durable)
        return self._engine

    async def _ingest(self, stream: Any) -> None:
        """Decide every input record, a batch at a time, never across a rebalance."""
        async for events in stream.take_events(self.settings.worker_batch, within=0.1):
            async with self._settle.deciding():
                await self._decide(events)
            del events  # the batch's raw records are not kept while waiting for the next

    async def _decide(self, events: list[Any]) -> None:
        owned = self._owned(events)
        batch = [
            Msg(e.message.topic, e.message.partition, e.message.offset, e.message.key,
                e.message.value, subject_verified(e.message.headers))
            for e in owned
        ]
        t0 = time.perf_counter()
        await self._process(batch)
        elapsed = time.perf_counter() - t0
        consents = [e.message.timestamp for e in owned
                    if e.message.topic == self.names.consent and e.message.timestamp]
        self.metrics.batch(len(batch), elapsed, consents)
        self._observe_engine()
        if self._trace:
            log.warning("batch %d records in %.1f ms", len(batch), elapsed * 1000)

    def _observe_engine(self) -> None:
        if self._engine is not None:
            self.metrics.tally(self._engine.counts)
            self.metrics.held.set(self._engine.held_count)

    def _owned(self, events: list[Any]) -> list[Any]:
        """The events of partitions this worker is assigned now (see :func:`owned`)."""
        return owned(events, self.app.consumer.assignment())

    async def _changelogs_known(self) -> None:
        """Wait until the producer knows every changelog topic's partitions.

        Table writes are partitioned by key, which needs the topic's metadata; right after
        faust declared a changelog topic the producer may not have it yet.
        """
        producer = self.app.producer._ensure_producer()
        # Every batch: a metadata refresh made while another worker was still creating the
        # changelogs can drop a topic the producer knew. A known topic costs no request.
        for table in self.tables.every():
            await producer.partitions_for(table.changelog_topic.get_topic_name())
        self._metadata_ready = True

    async def _tables_durable(self) -> None:
        """Wait until Kafka acknowledged every table write made so far; raise a refusal.

        Table writes go to their changelogs through faust's producer buffer, which a commit
        does not wait for, and whose flush may return early (see
        :mod:`processors.worker.changelog`): without this, a kill -9 after the commit could
        lose the consent state of records the group counts as handled.
        """
        await self._writes_acknowledged(forget_refused=True)

    async def _writes_acknowledged(self, forget_refused: bool) -> None:
        """Wait for every table write not acknowledged yet, the tick's and the batch's alike.

        A refusal raises at every barrier until one that writes the state again takes it
        (``forget_refused``: the batch path, whose retry or isolation decides it again).
        """
        tables = self.tables.every()
        waiting = [f for table in tables for f in table.unacknowledged()]
        try:
            await acknowledged(waiting)
        finally:
            gone = refused(waiting) if forget_refused else set()
            if gone:
                for table in tables:
                    table.forget(gone)

    async def _process(self, batch: list[Msg]) -> None:
        """Decide one batch; retry transient failures, never let a batch be acked undecided.

        faust acks a ``take_events`` batch even when the loop body raises, so an error
        escaping here would lose the batch at the next commit. Transient broker trouble is
        retried; if it persists the process exits at once (before any commit) and the batch is
        read again. A permanent failure (Kafka refuses a record for good) is narrowed down to
        its input record, which is dead-lettered (:meth:`_isolate`): no input can stop the
        worker.
        """
        try:
            await self._backoff.run("batch", lambda: self._attempt(batch),
                                    lambda exc: self._isolate(batch, exc), self._batch_retry)
        except RetriesExhausted as exc:
            log.critical("%s; exiting so that it is processed again", exc)
            os._exit(70)
        except Exception:
            log.exception("batch failed; exiting so that it is processed again after restart")
            os._exit(70)

    def _batch_retry(self, exc: BaseException) -> None:
        self.metrics.liveness.fail("kafka_retrying")
        if self._engine is not None:
            # Outputs of a failed flush may be lost: forget positions, so the retry
            # decides the batch again from the committed offsets (the sink de-duplicates).
            self._engine.reset()

    async def _attempt(self, batch: list[Msg]) -> None:
        await self._changelogs_known()
        eng = self.engine()
        eng.rt.ring.refresh_if_due()
        await eng.process(batch)
        await self._tables_durable()
        self.metrics.liveness.beat()
        self.metrics.liveness.contact()

    async def _isolate(self, batch: list[Msg], exc: BaseException) -> None:
        """Decide a batch Kafka refused part of one record at a time; dead-letter the culprits.

        The batch is decided again from the committed offsets (outputs of the failed attempt
        are dropped, the sink removes any sent twice), each record flushed on its own, so a
        refusal names its input. Each record is tried a bounded number of times: no loop. A
        fatal or persistent failure raises, and :meth:`_process` exits.
        """
        log.warning("batch refused for good (%s); deciding it record by record",
                    type(exc).__name__)
        eng = self.engine()
        eng.outbox.discard()
        eng.reset()
        for m in batch:
            await self._one(eng, m)

    async def _one(self, eng: Engine, m: Msg) -> None:
        async def attempt() -> None:
            await eng.process([m])
            await self._tables_durable()

        async def reject(exc: BaseException) -> None:
            await self._reject(eng, m, exc)

        await self._backoff.run("record", attempt, reject)

    async def _reject(self, eng: Engine, m: Msg, exc: BaseException) -> None:
        reason = reason_of(exc)
        log.warning("input %s dead-lettered: %s", m.source, reason)
        eng.reject(m, reason)

        async def flush() -> None:
            await eng.outbox.flush()
            await self._tables_durable()

        async def refused(again: BaseException) -> None:
            # The dead letter itself refused (it is bounded: not expected). The record
            # stays handled; never retried forever.
            eng.outbox.discard()
            log.error("dead letter of input %s refused (%s)", m.source, type(again).__name__)

        await self._backoff.run("dead letter", flush, refused)

    async def grace_tick(self) -> None:
        """Decide held events whose grace window ended, even when no new input arrives."""
        if self.app.rebalancing or not self._metadata_ready:
            self.metrics.liveness.beat()  # joining the group or not assigned yet: alive
            return
        try:
            async with self._settle.ticking():  # a revocation waits for it (see settle)
                if not self.app.rebalancing:
                    await self._changelogs_known()
                    await self.engine().tick()
                    # A refused write surfaces here; the next batch's barrier raises it too.
                    await self._writes_acknowledged(forget_refused=False)
            self.metrics.liveness.beat()
            self._observe_engine()
        except Exception as exc:  # a timer that raises stops the worker: the next tick retries
            kind = classify(exc)
            if kind == "fatal":
                raise
            if kind == "permanent":
                # Outputs of held events refused for good (bounded, so not expected): dropped,
                # or every later tick would fail on them again.
                dropped = self._engine.outbox.discard() if self._engine is not None else 0
                log.error("grace tick refused for good (%s); %d outputs dropped",
                          type(exc).__name__, dropped)
                return
            self.metrics.liveness.fail("kafka_retrying")
            log.warning("grace tick failed (%s); retrying at the next tick", type(exc).__name__)

    async def lag_gauge(self) -> None:
        """Lag per assigned input partition; the end-offset request doubles as the health
        probe."""
        if self.app.rebalancing or self._engine is None or self._fence is None:
            return
        try:
            await refresh_lag(self.app.consumer, self.names, self._fence, self._engine,
                              self.metrics)
        except TRANSIENT as exc:  # OSError includes TimeoutError: the probe's own bound
            self.metrics.liveness.fail("kafka_unreachable")
            log.warning("lag probe failed (%s); retrying in 5 s", type(exc).__name__)

    async def stall_watchdog(self) -> None:
        """Resume and re-seek an input partition that has records waiting but gets none."""
        if self.app.rebalancing:
            return
        try:
            await self._check_stalls()
        except TRANSIENT as exc:  # a timer that raises stops the worker: the next check retries
            log.warning("stall check failed (%s); retrying at the next check", type(exc).__name__)

    async def _check_stalls(self) -> None:
        # A worker whose partitions never delivered anything has no engine yet: build it here.
        await self._changelogs_known()
        eng = self.engine()
        fence = self._fence
        assert fence is not None  # noqa: S101 - built with the engine
        await resume_stalled(self.app.consumer, self.names, fence, eng, self._watch)

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        # Positions and the held-event index are per assignment: rebuilt after a rebalance.
        # faust revokes without waiting for the agent: the batch or tick in flight ends first.
        async with self._settle.exclusive():
            if self._engine is not None:
                self._engine.reset()


def create_app(settings: Settings) -> Worker:
    """The worker of ``settings``: a faust app with the agent, timers and tables registered.

    Nothing is started or connected: ``processors.worker.app.run_worker(worker.app, level)``
    runs it.
    """
    return Worker(settings)
