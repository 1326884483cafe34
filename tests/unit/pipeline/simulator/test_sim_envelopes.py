"""The simulator sends a user's events of one batch and topic as one envelope, as the collector
does; what the worker reads (each envelope's events in place) has the same ground truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec

from pipeline.policy import load_policy
from pipeline.simulator import compute_truth
from pipeline.simulator.envelopes import pack
from pipeline.simulator.producer import produce
from pipeline.simulator.traffic import SimulationConfig, generate
from schemas import validator
from tests.unit.pipeline.simulator.test_sim_producer import TRAFFIC, Recorder

NOW = datetime(2026, 4, 1, 6, tzinfo=UTC) + timedelta(hours=4)


def _sent(rec: Recorder) -> list[tuple[str, bytes, bytes, int] | str]:
    """Sends as (topic, key, value, ms), and 'F' for each flush."""
    return [c[1] if c[0] == "send" else "F" for c in rec.calls]


def _unpacked(sends: list[tuple[str, bytes, bytes, int] | str]) -> list[tuple[str, bytes, bytes]]:
    """The events the worker reads, in the order it may read them."""
    out = []
    for send in sends:
        if isinstance(send, str):
            continue
        topic, key, value, _ = send
        out += [(topic, key, item.raw) for item in validator.decode_message(value, key)]
    return out


def test_envelopes_carry_every_event_once_and_keep_each_users_order() -> None:
    rec = Recorder()
    sent = produce(TRAFFIC, rec)
    sends = _sent(rec)
    messages = [s for s in sends if not isinstance(s, str)]
    assert len(messages) < len(TRAFFIC.messages)
    assert sum(sent.values()) == len(TRAFFIC.messages)
    events = _unpacked(sends)
    assert Counter(events) == Counter((m.topic, m.key, m.value) for m in TRAFFIC.messages)

    def by_user(seq: list[tuple[str, bytes, bytes]]) -> dict[tuple[str, bytes], list[bytes]]:
        out: dict[tuple[str, bytes], list[bytes]] = {}
        for topic, key, value in seq:
            out.setdefault((topic, key), []).append(value)
        return out

    expected = [(m.topic, m.key, m.value) for m in TRAFFIC.messages]
    assert by_user(events) == by_user(expected)
    assert sends.count("F") == len(list(TRAFFIC.batches()))


def test_batches_are_flushed_in_order_and_never_mixed() -> None:
    rec = Recorder()
    produce(TRAFFIC, rec)
    sends, position = _sent(rec), 0
    for batch in TRAFFIC.batches():
        flush = sends.index("F", position)
        got = Counter(_unpacked(sends[position:flush]))
        assert got == Counter((m.topic, m.key, m.value) for m in batch)
        position = flush + 1


def test_malformed_messages_stay_single_and_envelopes_respect_the_limits() -> None:
    traffic = generate(
        SimulationConfig(5, 3000, 7, datetime(2026, 4, 1, 6, tzinfo=UTC), 3, chunk_size=1000)
    )
    for batch in traffic.batches():
        for packed in pack(batch):
            msg = packed.message
            assert len(msg.value) <= 1024 * 1024 and packed.events <= 500
            if msg.malformed is not None:
                assert packed.events == 1
            if packed.events > 1:
                body = msgspec.json.decode(msg.value)
                assert body["schema"] == "batch/1" and len(body["events"]) == packed.events
    malformed = [m for m in traffic.messages if m.malformed]
    single = [p.message for b in traffic.batches() for p in pack(b) if p.message.malformed]
    assert single == malformed


def test_the_ground_truth_of_what_the_worker_reads_is_unchanged() -> None:
    rec = Recorder()
    produce(TRAFFIC, rec)
    batch_of = {(m.topic, m.key, m.value): m for m in TRAFFIC.messages}
    read = [batch_of[event] for event in _unpacked(_sent(rec))]
    policy = load_policy(None)
    as_read = compute_truth(read, policy, NOW)
    assert as_read == compute_truth(TRAFFIC.messages, policy, NOW)
    assert as_read["tables"]  # not vacuous


def test_envelopes_can_be_turned_off() -> None:
    rec = Recorder()
    produce(TRAFFIC, rec, envelopes=False)
    assert len([c for c in rec.calls if c[0] == "send"]) == len(TRAFFIC.messages)
