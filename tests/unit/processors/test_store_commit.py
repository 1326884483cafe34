"""Consent state is written once per batch and user, before the batch's outputs leave."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processors import store as store_module
from processors.state import loads
from processors.store import Store
from processors.table import MemoryTable
from tests.unit.processors.conftest import Harness, at, build_harness

CON, NAV = "privacy.consent.v1", "app.navigation.v1"


class CountingTable(MemoryTable):
    """A memory table that records every write and delete, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, bytes]] = []

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.ops.append(("put", key))
        super().put(partition, key, value)

    def delete(self, partition: int, key: bytes) -> None:
        self.ops.append(("delete", key))
        super().delete(partition, key)


def make(policy: Any) -> tuple[Harness, CountingTable]:
    consent = CountingTable()
    return build_harness(policy, store=Store(consent, {}, {}, {})), consent


def test_two_answers_of_a_user_in_one_batch_are_one_write_with_both(
    policy: Any, consent: Callable[..., Any], nav: Callable[..., Any]
) -> None:
    h, table = make(policy)
    first = h.produce(CON, consent("c1", "u1", -20, audience_measurement=True))
    event = h.produce(NAV, nav("e1", "u1", -15))
    second = h.produce(CON, consent("c2", "u1", -10, audience_measurement=False))
    h.run(first, event, second)
    handle = h.subject("u1").handle
    assert table.ops == [("put", handle)]
    state = loads(table.data[handle])
    assert state.as_of("audience_measurement", h.clock[0] - 12 * 60) is True
    assert state.as_of("audience_measurement", h.clock[0]) is False
    assert h.outcomes("e1")["audience_measurement"] == "kept"  # the answer before it decided


def test_the_state_is_written_before_the_outputs_are_sent(
    policy: Any, consent: Callable[..., Any]
) -> None:
    h, table = make(policy)
    seen: list[bool] = []
    flush = h.engine.outbox.flush

    async def checked_flush() -> None:
        seen.append(h.subject("u1").handle in table.data)
        await flush()

    h.engine.outbox.flush = checked_flush  # type: ignore[method-assign]
    h.run(h.produce(CON, consent("c1", "u1", -20, audience_measurement=True)))
    assert seen == [True]


def test_an_erasure_after_an_answer_in_the_same_batch_leaves_no_state(
    policy: Any, consent: Callable[..., Any]
) -> None:
    h, table = make(policy)
    answer = h.produce(CON, consent("c1", "u1", -20, audience_measurement=True))
    erasure = h.produce(CON, {"schema": "rights/1", "event_id": "r1", "user_id": "u1",
                              "occurred_at": at(-10), "right": "erasure"})
    h.run(answer, erasure)
    assert table.data == {}
    assert h.engine.store.state(h.subject("u1")) is None


def test_a_reset_drops_the_changes_not_committed(policy: Any, consent: Callable[..., Any]) -> None:
    h, table = make(policy)
    store, user = h.engine.store, h.subject("u1")
    h.run(h.produce(CON, consent("c1", "u1", -20, audience_measurement=True)))
    committed = dict(table.data)
    state = store.state(user)
    assert state is not None
    state.apply(h.clock[0] - 60, {"audience_measurement": False})
    store.put_state(user, state)  # a failed attempt, never committed
    h.engine.reset()
    store.commit()
    assert table.data == committed


def test_an_uncommitted_state_evicted_from_the_cache_is_read_back(
    policy: Any, consent: Callable[..., Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(store_module, "CACHE_SIZE", 1)
    store = Store(CountingTable(), {}, {}, {})
    h = build_harness(policy, store=store)
    u1, u2 = h.subject("u1"), h.subject("u2")
    h.run(h.produce(CON, consent("c1", "u1", -20, audience_measurement=True)))
    state = store.state(u1)
    assert state is not None
    state.apply(h.clock[0] - 60, {"audience_measurement": False})
    store.put_state(u1, state)
    store.state(u2)  # evicts u1 from the one-entry cache
    again = store.state(u1)
    assert again is not None and again.as_of("audience_measurement", h.clock[0]) is False
