"""Table writes are durable once Kafka acknowledged them: tracked futures, not faust's flush.

The faust behaviours that make its own flush too weak are pinned against the installed faust
(an upgrade that fixes or changes them fails here: review ``processors/worker/changelog.py``).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import faust
import pytest
from aiokafka.errors import MessageSizeTooLargeError
from faust.transport.producer import ProducerBuffer

from pipeline.settings import Settings
from processors.worker import Worker
from processors.worker.app import faust_app
from processors.worker.changelog import TrackedTable, acknowledged


def test_faust_s_flush_gives_up_on_a_message_after_a_tenth_of_a_second() -> None:
    """Why the worker does not use ``app.producer.flush()`` as its durability barrier."""
    source = inspect.getsource(ProducerBuffer.flush_atmost)
    assert "asyncio.wait_for(self.message_sent.wait(), timeout=0.1)" in source
    assert "except asyncio.TimeoutError:\n                    return flushed_messages" in source


def test_faust_only_logs_a_changelog_write_kafka_refused() -> None:
    source = inspect.getsource(faust.Topic._on_published)
    assert "message.set_exception(exc)" in source
    assert "raise" not in source


def test_faust_s_table_writes_and_deletes_go_through_send_changelog() -> None:
    for hook in (faust.Table.on_key_set, faust.Table.on_key_del):
        assert "self.send_changelog(" in inspect.getsource(hook)
    assert list(inspect.signature(faust.Table.send_changelog).parameters) == [
        "self", "partition", "key", "value", "key_serializer", "value_serializer"]


def test_every_table_of_the_worker_keeps_its_writes_futures(worker: Worker) -> None:
    assert all(isinstance(t, TrackedTable) for t in worker.tables.every())
    consent = worker.tables.store_tables()[0]

    async def scenario() -> list[Any]:
        consent.put(3, b"handle", b"state")
        consent.delete(3, b"handle")
        sent = consent.table.unacknowledged()
        sent[0].set_result(None)
        return sent

    sent = asyncio.run(scenario())
    assert [(f.message.partition, f.message.key, f.message.value) for f in sent] == [
        (3, b"handle", b"state"), (3, b"handle", None)]
    assert consent.table.unacknowledged() == [sent[1]]  # the acknowledged one is forgotten


def test_the_producer_is_not_threaded() -> None:
    """A threaded faust producer publishes copies of the futures: the tracked ones would
    never complete and every barrier would time out."""
    assert faust_app(Settings.from_env({})).conf.producer_threaded is False


def test_a_refusal_raises_at_every_barrier_until_the_batch_path_takes_it(worker: Worker) -> None:
    held = worker.tables.store_tables()[1]

    async def scenario() -> None:
        held.put(0, b"a", b"1")
        held.put(1, b"b", b"2")
        refused_write, accepted = held.table.unacknowledged()
        accepted.set_result(None)
        refused_write.set_exception(RuntimeError("refused by the broker"))
        with pytest.raises(RuntimeError, match="refused by the broker"):  # a timer tick's
            await worker._writes_acknowledged(forget_refused=False)
        with pytest.raises(RuntimeError, match="refused by the broker"):  # the batch's
            await worker._tables_durable()
        await worker._tables_durable()  # decided again by the batch's retry: forgotten

    asyncio.run(scenario())


def test_a_barrier_waits_for_writes_another_made(worker: Worker) -> None:
    """A tick's barrier must not take the batch's writes (both share the tables)."""
    consent = worker.tables.store_tables()[0]

    async def scenario() -> list[str]:
        consent.put(2, b"batch-user", b"state")
        (write,) = consent.table.unacknowledged()
        order: list[str] = []

        async def barrier(name: str, forget: bool) -> None:
            await worker._writes_acknowledged(forget_refused=forget)
            order.append(name)

        both = asyncio.gather(barrier("tick", False), barrier("batch", True))
        await asyncio.sleep(0.01)
        order.append("acknowledged")
        write.set_result(None)
        await both
        return order

    assert asyncio.run(scenario()) == ["acknowledged", "tick", "batch"]


def test_acknowledged_prefers_a_refusal_to_a_timeout_and_a_permanent_one() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending, transient, permanent = (loop.create_future() for _ in range(3))
        transient.set_exception(ConnectionError("broker away"))
        permanent.set_exception(MessageSizeTooLargeError())
        with pytest.raises(MessageSizeTooLargeError):
            await acknowledged([pending, transient, permanent], timeout=0.01)
        with pytest.raises(ConnectionError):
            await acknowledged([pending, transient], timeout=0.01)
        pending.set_result(None)

    asyncio.run(scenario())


def test_acknowledged_waits_for_every_write() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(3)]
        order: list[str] = []
        for i, fut in enumerate(futures):
            loop.call_later(0.01 * (3 - i), fut.set_result, i)

        async def barrier() -> None:
            await acknowledged(futures)
            order.append("barrier")
            assert all(f.done() for f in futures)

        await barrier()
        return order

    assert asyncio.run(scenario()) == ["barrier"]


def test_acknowledged_times_out_without_cancelling_the_writes() -> None:
    async def scenario() -> None:
        fut = asyncio.get_running_loop().create_future()
        with pytest.raises(TimeoutError, match="1 table writes not acknowledged"):
            await acknowledged([fut], timeout=0.01)
        assert not fut.cancelled()  # faust completes it later from the producer's callback
        fut.set_result(None)

    asyncio.run(scenario())


def test_acknowledged_of_nothing_returns_at_once() -> None:
    asyncio.run(acknowledged([], timeout=0))
