"""Grouping of output records into Kafka messages."""

from __future__ import annotations

import json

from processors.outbox import encode_groups


def _records(n: int, size: int) -> list[dict[str, str]]:
    return [{"event_id": f"e{i}", "pad": "x" * size} for i in range(n)]


def test_groups_hold_at_most_max_records_in_order() -> None:
    values = list(encode_groups(_records(5, 10), max_records=2, max_bytes=10_000))
    groups = [json.loads(v)["records"] for v in values]
    assert [len(g) for g in groups] == [2, 2, 1]
    assert [r["event_id"] for g in groups for r in g] == [f"e{i}" for i in range(5)]


def test_a_group_over_the_byte_limit_is_split_until_it_fits() -> None:
    records = _records(2000, 600)  # about 1.3 MB as one group: over Kafka's 1 MiB
    values = list(encode_groups(records, max_records=2000, max_bytes=900 * 1024))
    assert len(values) > 1
    assert all(len(v) <= 900 * 1024 for v in values)
    decoded = [r for v in values for r in json.loads(v)["records"]]
    assert decoded == records


def test_a_single_record_over_the_limit_still_goes_out_alone() -> None:
    [value] = encode_groups(_records(1, 2000), max_records=10, max_bytes=100)
    assert len(json.loads(value)["records"]) == 1


def test_a_failed_flush_keeps_every_record_for_the_next_one() -> None:
    import asyncio

    from processors.outbox import Outbox

    sent: list[tuple[str, int, bytes]] = []
    failures = [RuntimeError("broker down")]

    async def send(
        topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if failures:
            fut.set_exception(failures.pop())
        else:
            sent.append((topic, partition, value))
            fut.set_result(None)
        return fut

    async def scenario() -> None:
        box = Outbox(send)
        box.add("t", 0, {"event_id": "e1"})
        box.add_single("dl", 0, {"reason": "r"})
        try:
            await box.flush()
        except RuntimeError:
            pass
        else:
            raise AssertionError("the failed acknowledgement was not raised")
        assert box.pending() == 2
        await box.flush()
        assert box.pending() == 0

    asyncio.run(scenario())
    assert {(t, json.loads(v).get("records", [None])[0] is not None) for t, _, v in sent} == {
        ("t", True),
        ("dl", False),
    }


def test_a_tombstone_goes_out_with_its_key_and_a_null_value_and_survives_a_failed_flush() -> None:
    import asyncio
    import contextlib

    from processors.outbox import Outbox

    sent: list[tuple[str, int, bytes | None, bytes | None]] = []
    failures = [RuntimeError("broker down")]

    async def send(
        topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if failures:
            fut.set_exception(failures.pop())
        else:
            sent.append((topic, partition, value, key))
            fut.set_result(None)
        return fut

    async def scenario() -> None:
        box = Outbox(send)
        box.add_tombstone("privacy.consent.v1", 4, b"user-1")
        assert box.pending() == 1
        with contextlib.suppress(RuntimeError):
            await box.flush()
        assert box.pending() == 1  # kept for the next flush
        await box.flush()

    asyncio.run(scenario())
    assert sent == [("privacy.consent.v1", 4, None, b"user-1")]


def test_a_failed_flush_leaves_no_acknowledgement_alive() -> None:
    # The failed future holds its exception, whose traceback holds flush's frame: were the
    # futures still listed there, only a full collection would free them (and their records).
    import asyncio
    import contextlib
    import gc
    import weakref

    from processors.outbox import Outbox

    made: list[weakref.ref[asyncio.Future[None]]] = []

    async def send(
        topic: str, partition: int, value: bytes | None, key: bytes | None = None
    ) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_exception(RuntimeError("broker down"))
        made.append(weakref.ref(fut))
        return fut

    async def scenario() -> None:
        box = Outbox(send)
        box.add("t", 0, {"event_id": "e1"})
        box.add_tombstone("c", 0, b"k")
        with contextlib.suppress(RuntimeError):
            await box.flush()
        assert box.pending() == 2

    gc.disable()
    try:
        asyncio.run(scenario())
        assert made and all(ref() is None for ref in made)
    finally:
        gc.enable()
