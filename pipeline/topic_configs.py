"""Topic configs that bound an erasure (the policy's ``[erasure]``), and bringing existing
topics in line with them.

:mod:`pipeline.topics` builds the specs; this module says what a compacted topic, and the
consent topic read as an input, must carry, and alters existing topics to match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError
from pipeline.policy.erasure import ErasureBounds

if TYPE_CHECKING:
    from pipeline.topics import TopicSpec


class TopicAlterFailed(PipelineError):
    """The broker refused to bring an existing topic's configs in line; the message says why."""


def consent_configs(bounds: ErasureBounds) -> dict[str, str]:
    """``privacy.consent.v1`` is compacted but read as an input: no consent change or rights
    request may be compacted away before a recovering worker reads it, so it stays whole as
    long as raw events stay (``min.compaction.lag.ms`` = input retention, from arrival)."""
    return {"cleanup.policy": "compact", "message.timestamp.type": "LogAppendTime",
            "min.compaction.lag.ms": str(bounds.input_retention_ms)}


def compaction_configs(bounds: ErasureBounds) -> dict[str, str]:
    """What every compacted topic gets so that a tombstoned value is gone within a bound.

    Kafka compacts closed segments only; a compacted topic's segment closes (on the next
    append) once it is ``min(segment.ms, max.compaction.lag.ms)`` old, and a dirty segment is
    compacted once its first record is ``max.compaction.lag.ms`` old whatever the dirty ratio.
    """
    return {
        "segment.ms": str(bounds.segment_ms),
        "max.compaction.lag.ms": str(bounds.max_compaction_lag_ms),
        "delete.retention.ms": str(bounds.delete_retention_ms),
        "min.cleanable.dirty.ratio": str(bounds.min_cleanable_dirty_ratio),
    }


def with_erasure_compaction(
    specs: Iterable[TopicSpec], bounds: ErasureBounds
) -> list[TopicSpec]:
    """``specs`` with :func:`compaction_configs` added to every compacted topic (any name).

    A topic that keeps records uncompacted for a while (``min.compaction.lag.ms``) gets its
    maximum lag counted from then (Kafka refuses a maximum under the minimum).
    """
    extra = compaction_configs(bounds)
    out = []
    for spec in specs:
        if _compacted(spec):
            configs = {**spec.configs, **extra}
            floor = spec.configs.get("min.compaction.lag.ms")
            if floor is not None:
                configs["max.compaction.lag.ms"] = str(int(floor) + bounds.max_compaction_lag_ms)
            spec = dataclasses.replace(spec, configs=configs)
        out.append(spec)
    return out


def _compacted(spec: TopicSpec) -> bool:
    return "compact" in spec.configs.get("cleanup.policy", "").split(",")


def align_configs(admin: Any, specs: Sequence[TopicSpec]) -> list[str]:
    """Set on existing topics every config of their spec that differs (not ``cleanup.policy``:
    a conflict there is an error, see :func:`ensure_topics`); returns the topics altered.

    Other configs an operator set on a topic are kept (incremental alter). This is how a
    changed policy (input retention, compaction bounds) reaches topics created before it.

    Raises:
        TopicAlterFailed: the broker refused a change (its reason in the message).
    """
    from kafka.admin import ConfigResource, ConfigResourceType  # names import no Kafka client

    wanted = {s.name: {k: v for k, v in s.configs.items() if k != "cleanup.policy"}
              for s in specs}  # fmt: skip
    wanted = {name: configs for name, configs in wanted.items() if configs}
    if not wanted:
        return []
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, list(c)) for n, c in wanted.items()]
    actual = admin.describe_configs(resources, config_filter="all")["topic"]
    changes: dict[str, dict[str, str]] = {}
    for name, configs in wanted.items():
        have = actual.get(name, {})
        diff = {k: v for k, v in configs.items() if not _same(have.get(k, {}).get("value"), v)}
        if diff:
            changes[name] = diff
    if not changes:
        return []
    answer = admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, c) for n, c in changes.items()]
    )
    for name, outcome in answer.get("topic", {}).items():
        if outcome != "OK":
            raise TopicAlterFailed(f"altering the configs of topic {name} failed: {outcome}")
    return sorted(changes)


def _same(found: object, wanted: str) -> bool:
    if found is None:
        return False
    try:
        return float(str(found)) == float(wanted)
    except ValueError:
        return str(found) == wanted
