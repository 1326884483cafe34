"""Produce a batch to Kafka and wait until every record is acknowledged (or give up in time).

kafka-python is blocking and thread-based: ``send`` runs in a worker thread (it may block on
metadata), and the acknowledgements come back through record-future callbacks on the
producer's I/O thread, bridged to one asyncio future per batch. The producer is created in a
background thread, so the collector starts (and answers 503) while Kafka is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka.errors import KafkaError

from pipeline.collector.envelopes import pack
from pipeline.collector.exceptions import KafkaUnavailable
from pipeline.collector.intake import Record
from pipeline.errors import PipelineError
from pipeline.partitioner import KeyHashes

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], Any]
"""Builds a kafka-python ``KafkaProducer`` (bytes keys and values); may raise when unreachable."""

_RECONNECT_MAX_S = 5.0


class _BatchAcks:
    """Counts acknowledgements of one batch on the producer thread; resolves one asyncio future."""

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self._lock = threading.Lock()
        self._remaining = count
        self._loop = loop
        self.done: asyncio.Future[None] = loop.create_future()
        # Set when the request gave up (503): a send job still queued must not run after it.
        self.abandoned = threading.Event()

    def acked(self, _metadata: Any) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            self._loop.call_soon_threadsafe(self._resolve, None)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self._remaining > 0
            self._remaining = 0
        if first:
            self._loop.call_soon_threadsafe(self._resolve, exc)

    def _resolve(self, exc: BaseException | None) -> None:
        if self.done.done():  # the request already timed out
            return
        if exc is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(exc)


class EventProducer:
    """An idempotent kafka-python producer shared by all requests of one collector.

    Args:
        factory: builds the kafka-python producer (retried in the background until it works).
        timeout_s: bound on one batch, from first send to last acknowledgement.
    """

    def __init__(self, factory: ProducerFactory, timeout_s: float) -> None:
        self._factory = factory
        self.timeout_s = timeout_s
        self._producer: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # One sending thread: send() is GIL-bound, so more threads only add lock contention.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="collector-send")
        self._hashes = KeyHashes()  # users send many events; never holds their raw ids

    @property
    def ready(self) -> bool:
        """Whether the producer has bootstrapped (sends are possible)."""
        return self._producer is not None

    def start(self) -> None:
        """Connect in a background thread; returns at once (idempotent)."""
        if self._thread is None and self._producer is None:
            self._thread = threading.Thread(
                target=self._connect, name="collector-kafka-connect", daemon=True
            )
            self._thread.start()

    def _connect(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                producer = self._factory()
            except (PipelineError, KafkaError, OSError) as exc:
                log.warning(
                    "Kafka not reachable (%s); answering 503 until it is", type(exc).__name__
                )
                self._stop.wait(delay)
                delay = min(_RECONNECT_MAX_S, delay * 2)
                continue
            if self._stop.is_set():
                producer.close(timeout=1)
                return
            self._producer = producer
            log.info("Kafka producer connected")
            return

    async def produce(self, records: Sequence[Record]) -> float:
        """Send ``records`` and wait until Kafka has acknowledged every one.

        A user's events on one topic travel as one message (an envelope, :mod:`envelopes`).

        Returns:
            Seconds from the first send to the last acknowledgement.

        Raises:
            KafkaUnavailable: not connected, a send failed, or no full acknowledgement within
                ``timeout_s``. Some records may have been written: clients retry the whole
                batch and the pipeline de-duplicates by ``event_id``.
        """
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable("not connected to Kafka yet")
        if not records:
            return 0.0
        records = pack(records)
        loop = asyncio.get_running_loop()
        acks = _BatchAcks(len(records), loop)
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                await loop.run_in_executor(self._sender, _send_all, producer, records, acks,
                                           self._hashes)
                await acks.done
        except TimeoutError:
            raise KafkaUnavailable(
                f"Kafka did not acknowledge within {self.timeout_s:g} s"
            ) from None
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka refused the batch ({type(exc).__name__})") from None
        finally:
            if not acks.done.done():
                acks.abandoned.set()
                acks.done.cancel()  # late callbacks then find it done and do nothing
        return time.perf_counter() - start

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop connecting, flush what is pending (bounded) and close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._sender.shutdown(wait=True)
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=timeout_s)


def _send_all(producer: Any, records: Sequence[Record], acks: _BatchAcks,
              hashes: KeyHashes) -> None:
    # Partitioning here (same result as the default partitioner, so a user's events land on
    # the partition number of their consent whoever produced it) skips kafka-python's
    # per-record partitioner work: about a fifth of its cost per record.
    counts: dict[str, int] = {}
    for record in records:
        if acks.abandoned.is_set():  # the request answered 503: send nothing more of it
            return
        count = counts.get(record.topic)
        if count is None:
            count = counts[record.topic] = len(producer.partitions_for(record.topic))
        future = producer.send(
            record.topic, value=record.value, key=record.key,
            partition=hashes.partition_of(record.key, count), headers=record.headers(),
        )
        future.add_callback(acks.acked)
        future.add_errback(acks.failed)
