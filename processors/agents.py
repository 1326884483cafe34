"""The worker's agent and timer: faust delivers batches, the engine decides them."""

from __future__ import annotations

import logging
from typing import Any

from pipeline.app import app, names, settings
from processors import tables
from processors.context import Runtime
from processors.engine import Engine
from processors.fence import KafkaFence
from processors.messages import Msg
from processors.outbox import Outbox
from processors.store import Store
from processors.topics import inputs, output

log = logging.getLogger(__name__)

_engine: Engine | None = None
_fence: KafkaFence | None = None
_outputs: dict[str, Any] = {}


async def _send(topic: str, partition: int, value: bytes) -> Any:
    if topic not in _outputs:
        _outputs[topic] = output(topic)
    return await _outputs[topic].send(value=value, partition=partition)


def _runtime() -> Runtime:
    import keys
    from pipeline.policy import load_policy

    policy = load_policy(settings.policy)
    ring = keys.open_keyring(settings, policy.key_specs())
    return Runtime(policy=policy, ring=ring, names=names)


def engine() -> Engine:
    """The worker's engine, built on first use (policy, keyring, fence)."""
    global _engine, _fence
    if _engine is None:
        _fence = KafkaFence(settings.bootstrap_servers, app.conf.id)
        store = Store(tables.consent, tables.held, tables.erased, tables.audit)
        _engine = Engine(_runtime(), store, Outbox(_send), _fence)
    return _engine


@app.agent(inputs)
async def ingest(stream: Any) -> None:
    """Decide every input record, a batch at a time."""
    async for events in stream.take_events(settings.worker_batch, within=0.1):
        batch = [
            Msg(
                e.message.topic,
                e.message.partition,
                e.message.offset,
                e.message.key,
                e.message.value,
            )
            for e in events
        ]
        eng = engine()
        eng.rt.ring.refresh_if_due()
        await eng.process(batch)


@app.timer(interval=0.5)
async def grace_tick() -> None:
    """Decide held events whose grace window ended, even when no new input arrives."""
    if app.rebalancing:
        return
    await engine().tick()


@app.on_partitions_revoked.connect
async def _on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
    # Positions and the held-event index are per assignment: rebuilt after a rebalance.
    if _engine is not None:
        _engine.reset()


@app.on_after_configured.connect
def _configured(sender: Any, **kwargs: Any) -> None:
    log.info("privacy-pipeline worker configured (prefix=%r)", settings.topic_prefix)
