"""Simulated traffic fed to an engine without Kafka (the engine benchmark and its golden test).

The fence sees the log as produced so far: records are appended when their batch is handed
to the engine, as a worker reading live traffic would see them (a fence over the whole log
would apply every consent record up front). The clock follows the traffic, so events of
users without an answer are held for the grace window and released by later batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.simulator import Message, SimulationConfig, generate
from pipeline.simulator.envelopes import pack
from pipeline.topics import TopicNames
from processors.messages import Msg
from processors.subject import partition_of

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
"""The end of the simulated day (keyrings of the benchmark and test are created at it)."""


def simulated(
    users: int, events: int, seed: int, hours: int = 24, partitions: int = 6,
    envelopes: bool = False, consent_delay_s: float = 0.0,
) -> list[tuple[Msg, float]]:
    """Simulated input records with their produce time (epoch seconds), in produce order.

    ``envelopes``: a user's events of one production batch in one envelope, as the collector
    sends them. ``consent_delay_s``: consent records are produced that much later (answers
    that reach Kafka after the user's first events: the grace window at work).
    """
    config = SimulationConfig(users, events, seed, NOW - timedelta(hours=hours), hours)
    names, offsets = TopicNames(""), dict[tuple[str, int], int]()
    topics = {"app.navigation.v1": names.navigation, "app.geolocation.v1": names.geolocation,
              "privacy.consent.v1": names.consent}
    traffic = generate(config)
    messages = (
        [p.message for batch in traffic.batches() for p in pack(batch)]
        if envelopes
        else traffic.messages
    )
    def produced(m: Message) -> float:
        return m.timestamp_ms / 1000 + (consent_delay_s if m.topic == "privacy.consent.v1" else 0)

    if consent_delay_s:
        messages = sorted(messages, key=produced)
    out: list[tuple[Msg, float]] = []
    for m in messages:
        topic, partition = topics[m.topic], partition_of(m.key.decode(), partitions)
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        out.append((Msg(topic, partition, offset, m.key, m.value), produced(m)))
    return out


class LogFence:
    """The engine's fence over in-memory logs per (topic, partition), and the group's commits."""

    def __init__(self) -> None:
        self.log: dict[tuple[str, int], list[Msg]] = {}
        self.commits: dict[tuple[str, int], int] = {}

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        return {p: len(self.log.get((topic, p), [])) for p in partitions}

    async def committed(self, topic: str, partition: int) -> int:
        return self.commits.get((topic, partition), 0)

    async def read(self, topic: str, partition: int, start: int, end: int) -> list[Msg]:
        return self.log.get((topic, partition), [])[start:end]

    async def read_ranges(self, topic: str, ranges: dict[int, tuple[int, int]]) -> list[Msg]:
        out: list[Msg] = []
        for partition, (start, end) in ranges.items():
            out.extend(await self.read(topic, partition, start, end))
        return out


class GrowingFence(LogFence):
    """A fence over the records delivered so far (no holes: the stream skips nothing)."""

    def deliver(self, batch: Iterable[Msg]) -> None:
        for m in batch:
            self.log.setdefault((m.topic, m.partition), []).append(m)

    def commit_all(self) -> None:
        """The group commits every record delivered so far (the worker acked its batch)."""
        self.commits = {tp: len(msgs) for tp, msgs in self.log.items()}


async def noop_send(topic: str, partition: int, value: bytes | None,
                     key: bytes | None = None) -> Any:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut


def recording_send(
    sent: list[tuple[str, int, bytes | None, bytes | None]],
) -> Callable[..., Awaitable[Any]]:
    """An outbox ``send`` that records every message (tombstones too) in order."""

    async def send(topic: str, partition: int, value: bytes | None,
                   key: bytes | None = None) -> Any:
        sent.append((topic, partition, value, key))
        return await noop_send(topic, partition, value, key)

    return send


def batches(records: Sequence[tuple[Msg, float]], size: int) -> list[tuple[list[Msg], float]]:
    """Batches of ``size`` records, each with the clock when it is handed over (its newest
    produce time plus one second)."""
    out: list[tuple[list[Msg], float]] = []
    for start in range(0, len(records), size):
        chunk = records[start : start + size]
        out.append(([m for m, _ in chunk], max(t for _, t in chunk) + 1.0))
    return out


async def feed(
    process: Callable[[Sequence[Msg]], Awaitable[None]],
    fence: GrowingFence,
    work: Sequence[tuple[list[Msg], float]],
    clock: list[float],
) -> None:
    """Hand each batch to ``process`` with the clock moved to its time (never backwards)."""
    for batch, when in work:
        clock[0] = max(clock[0], when)
        fence.deliver(batch)
        await process(batch)
        fence.commit_all()

