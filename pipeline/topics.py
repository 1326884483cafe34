"""Topic names (DESIGN.md section 3, ARCHITECTURE.md), their specs, and idempotent creation.

Every topic of the pipeline shares ``settings.partitions``: inputs must be co-partitioned
(a user's events and consent land on the same partition number) and the sanitized and
decision topics follow the same layout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from pipeline.errors import ConfigError, PipelineError
from pipeline.policy.erasure import ErasureBounds
from pipeline.settings import PREFIX, Settings
from pipeline.topic_configs import align_configs, consent_configs, with_erasure_compaction

NAVIGATION = "app.navigation.v1"
GEOLOCATION = "app.geolocation.v1"
CONSENT = "privacy.consent.v1"
DEADLETTER = "pipeline.deadletter.v1"
DECISIONS = "pipeline.decisions.v1"
SUBJECT_KEYS = "privacy.subject-keys.v1"

_DAY_MS = 24 * 60 * 60 * 1000
DEADLETTER_RETENTION_MS = 30 * _DAY_MS
DEADLETTER_SEGMENT_MS = _DAY_MS
"""Dead letters may hold a raw id (encrypted): deleted within a day of their retention, not
Kafka's default week of segment, while keeping the segment count small (30 a partition)."""
_WAIT_MS = 30_000

#: The worker's faust app id (after the prefix) and its tables: faust names each table's
#: changelog ``<app id>-<table>-changelog``. ``topics`` creates them; the worker never does.
WORKER_APP = "privacy-pipeline"
WORKER_TABLES = ("consent", "held", "held_event", "erased", "rights_audit", "rights_audit_entry")


def sanitized(purpose: str) -> str:
    """Name of the sanitized output topic of ``purpose`` (``sanitized.<purpose>.v1``)."""
    return f"sanitized.{purpose}.v1"


class TopicConflict(ConfigError):
    """An existing topic cannot serve as specified (partition count or cleanup policy)."""


class TopicCreateFailed(PipelineError):
    """The broker refused to create a topic; the message carries its reason."""


class TopicDeleteFailed(PipelineError):
    """The broker refused to delete a topic; the message carries its reason."""


class TopicMissing(ConfigError):
    """A topic a service uses does not exist (run ``privacy-pipeline topics``)."""


@dataclasses.dataclass(frozen=True)
class TopicSpec:
    """What a topic must look like."""

    name: str
    partitions: int
    configs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    replication_factor: int = -1
    """-1: the broker's ``default.replication.factor`` (1 on the local broker)."""


@dataclasses.dataclass(frozen=True)
class EnsureResult:
    """Outcome of :func:`ensure_topics`: names created now, names already there."""

    created: tuple[str, ...]
    existing: tuple[str, ...]
    altered: tuple[str, ...] = ()
    """Existing topics whose configs (retention, compaction) were brought in line."""


def _delete(retention_ms: int | None = None) -> dict[str, str]:
    configs = {"cleanup.policy": "delete"}
    if retention_ms is not None:
        configs["retention.ms"] = str(retention_ms)
    return configs


def pipeline_specs(
    settings: Settings, purposes: Iterable[str], bounds: ErasureBounds | None = None
) -> list[TopicSpec]:
    """Every topic of the pipeline for ``purposes`` (inputs, consent, outputs, dead letters).

    ``bounds``: the policy's erasure bounds (``policy.erasure``; None: the defaults), which set
    the input topics' retention and every compacted topic's compaction.
    """
    n, b = settings.partitions, bounds or ErasureBounds()
    # Broker time stamps raw events: retention counts from arrival, so an import stamped days
    # ago is not deleted before the worker reads it, and no producer clock stretches the bound.
    raw = {**_delete(b.input_retention_ms), "segment.ms": str(b.segment_ms),
           "message.timestamp.type": "LogAppendTime"}
    specs = [
        TopicSpec(NAVIGATION, n, raw),
        TopicSpec(GEOLOCATION, n, raw),
        TopicSpec(CONSENT, n, consent_configs(b)),
        TopicSpec(DECISIONS, n, _delete()),
        TopicSpec(DEADLETTER, n, {**_delete(DEADLETTER_RETENTION_MS),
                                  "segment.ms": str(DEADLETTER_SEGMENT_MS)}),
        # The worker's subject-keys table writes it (its changelog): compacted, so the latest
        # record per handle stays, and an erasure's tombstone removes the user's keys.
        TopicSpec(SUBJECT_KEYS, n, {"cleanup.policy": "compact"}),
    ]
    specs += [TopicSpec(sanitized(p), n, _delete()) for p in sorted(set(purposes))]
    return with_erasure_compaction(specs, b)


def changelog(table: str) -> str:
    """Changelog topic of one worker table (unprefixed, like every name here)."""
    return f"{WORKER_APP}-{table}-changelog"


def worker_state_specs(settings: Settings, bounds: ErasureBounds | None = None) -> list[TopicSpec]:
    """The changelog topics of the worker's tables (compacted, one partition per input's)."""
    compact = {"cleanup.policy": "compact"}
    specs = [TopicSpec(changelog(t), settings.partitions, compact) for t in WORKER_TABLES]
    return with_erasure_compaction(specs, bounds or ErasureBounds())


def all_specs(
    settings: Settings, purposes: Iterable[str], bounds: ErasureBounds | None = None
) -> list[TopicSpec]:
    """Every topic ``privacy-pipeline topics`` creates: the pipeline's and the worker state's."""
    specs = pipeline_specs(settings, purposes, bounds) + worker_state_specs(settings, bounds)
    return with_erasure_compaction(specs, bounds or ErasureBounds())


def leftover_names(prefix: str) -> list[str]:
    """Topics older workers let faust create (its leader-election topic): deleted with the rest."""
    return [f"{prefix}{WORKER_APP}-__assignor-__leader"]


def with_prefix(specs: Iterable[TopicSpec], prefix: str) -> list[TopicSpec]:
    """``specs`` renamed under ``prefix`` (``PRIVACY_PIPELINE_TOPIC_PREFIX``; '' = unchanged)."""
    return [dataclasses.replace(s, name=prefix + s.name) for s in specs]


def ensure_topics(admin: Any, specs: Sequence[TopicSpec]) -> EnsureResult:
    """Create the missing topics of ``specs`` and check the existing ones; safe to repeat.

    Args:
        admin: a ``kafka.admin.KafkaAdminClient`` (see :func:`pipeline.kafka.make_admin`).
        specs: the wanted topics.

    Returns:
        Which topics were created and which already existed.

    Raises:
        TopicConflict: an existing topic has another partition count or cleanup policy.
        TopicCreateFailed: the broker refused a creation (e.g. invalid config).
        TopicAlterFailed: the broker refused to bring an existing topic's configs in line
            (:func:`pipeline.topic_configs.align_configs`).
    """
    present = set(admin.list_topics())
    # Check what exists before creating anything: a conflict leaves the cluster untouched.
    _check_existing(admin, [s for s in specs if s.name in present])
    created = _create(admin, [s for s in specs if s.name not in present])
    raced = [s for s in specs if s.name not in present and s.name not in created]
    _check_existing(admin, raced)
    if created:
        admin.wait_for_topics(list(created), timeout_ms=_WAIT_MS)
    existing = [s.name for s in specs if s.name not in created]
    altered = align_configs(admin, [s for s in specs if s.name in existing])
    return EnsureResult(created=tuple(created), existing=tuple(existing), altered=tuple(altered))


def check_topics(admin: Any, specs: Sequence[TopicSpec]) -> None:
    """Check that every topic of ``specs`` exists as specified; creates nothing.

    Raises:
        TopicMissing: a topic does not exist (the first one, by name).
        TopicConflict: a topic has another partition count or cleanup policy.
    """
    present = set(admin.list_topics())
    missing = sorted(s.name for s in specs if s.name not in present)
    if missing:
        more = f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        raise TopicMissing(f"topic {missing[0]} missing: run `privacy-pipeline topics`{more}")
    _check_existing(admin, specs)


def _create(admin: Any, specs: Sequence[TopicSpec]) -> list[str]:
    if not specs:
        return []
    request = {
        s.name: {
            "num_partitions": s.partitions,
            "replication_factor": s.replication_factor,
            "configs": dict(s.configs),
        }
        for s in specs
    }
    response = admin.create_topics(request, raise_errors=False)
    created: list[str] = []
    for topic in response["topics"]:
        code = topic["error_code"]
        if code == 0:
            created.append(topic["name"])
        elif code != TopicAlreadyExistsError.errno:  # lost a race: checked as existing below
            message = topic.get("error_message") or f"Kafka error code {code}"
            raise TopicCreateFailed(f"creating topic {topic['name']} failed: {message}")
    return created


def _check_existing(admin: Any, specs: Sequence[TopicSpec]) -> None:
    if not specs:
        return
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    env = f"{PREFIX}PARTITIONS"
    for spec in specs:
        count = len(described[spec.name]["partitions"])
        if count != spec.partitions:
            raise TopicConflict(
                f"topic {spec.name} has {count} partitions, expected {spec.partitions}: "
                f"set {env}={count} or delete the topic and run `privacy-pipeline topics` again"
            )
    _check_cleanup_policy(admin, specs)


def _check_cleanup_policy(admin: Any, specs: Sequence[TopicSpec]) -> None:
    wanted = {s.name: s.configs["cleanup.policy"] for s in specs if "cleanup.policy" in s.configs}
    if not wanted:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, ["cleanup.policy"]) for n in wanted]
    actual = admin.describe_configs(resources, config_filter="all")["topic"]
    for name, policy in wanted.items():
        found = actual.get(name, {}).get("cleanup.policy", {}).get("value")
        if found is not None and set(found.split(",")) != set(policy.split(",")):
            raise TopicConflict(
                f"topic {name} has cleanup.policy={found}, expected {policy}: "
                f"alter it (kafka-configs --alter) or delete the topic and run "
                f"`privacy-pipeline topics` again"
            )


def delete_topics(admin: Any, names: Sequence[str]) -> list[str]:
    """Delete those of ``names`` that exist; returns the names deleted (sorted).

    Raises:
        TopicCreateFailed: the broker refused a deletion (its reason in the message).
    """
    present = sorted(set(names) & set(admin.list_topics()))
    if not present:
        return []
    response = admin.delete_topics(present, timeout_ms=_WAIT_MS, raise_errors=False)
    for topic in response["topics"]:
        if topic["error_code"] != 0:
            message = topic.get("error_message") or f"Kafka error code {topic['error_code']}"
            raise TopicDeleteFailed(f"deleting topic {topic['name']} failed: {message}")
    return present
