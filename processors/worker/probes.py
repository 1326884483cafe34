"""The worker's periodic probes: lag per input partition (the health probe too) and stalls.

Called by the timers of :class:`~processors.worker.agents.Worker`; each takes what it reads
(the faust consumer for the assignment, the fence for end offsets, the engine for what was
handled) and raises what the broker raised: the timer decides what a failure means.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pipeline.topics import TopicNames
from processors.engine import Engine
from processors.metrics import WorkerMetrics
from processors.worker.fence import KafkaFence
from processors.worker.watchdog import StallWatch

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 4.0


async def refresh_lag(
    consumer: Any, names: TopicNames, fence: KafkaFence, engine: Engine, metrics: WorkerMetrics
) -> None:
    """Set the lag gauge of every assigned input partition; mark the broker as answering."""
    inputs_ = names.inputs
    assigned = {(tp.topic, tp.partition) for tp in consumer.assignment() if tp.topic in inputs_}
    ends: dict[tuple[str, int], int] = {}
    for topic in inputs_:
        # No partition assigned: still ask for one, so that health reflects the broker.
        parts = sorted(p for t, p in assigned if t == topic) or ([] if assigned else [0])
        if parts:
            got = await asyncio.wait_for(fence.peek_ends(topic, parts), PROBE_TIMEOUT_S)
            ends.update({(topic, p): e for p, e in got.items() if (topic, p) in assigned})
    metrics.liveness.contact()
    await metrics.refresh_lag(ends, engine.next_offset)


async def resume_stalled(
    consumer: Any, names: TopicNames, fence: KafkaFence, engine: Engine, watch: StallWatch
) -> None:
    """Resume and re-seek each assigned input partition ``watch`` finds stalled."""
    inputs_ = set(names.inputs)
    assigned = [(tp.topic, tp.partition) for tp in consumer.assignment() if tp.topic in inputs_]

    async def end(topic: str, partition: int) -> int:
        return (await fence.end_offsets(topic, [partition]))[partition]

    async def handled(topic: str, partition: int) -> int:
        return await engine.next_offset(topic, partition)

    for topic, partition, offset in await watch.stalled(assigned, end, handled):
        tp = next(
            t for t in consumer.assignment() if t.topic == topic and t.partition == partition
        )
        log.warning(
            "input partition %s[%d] stalled; resuming at offset %d", topic, partition, offset
        )
        consumer.resume_partitions([tp])
        await consumer.seek(tp, offset)
