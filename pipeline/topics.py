"""Topic names (DESIGN.md section 3, ARCHITECTURE.md), their specs, and idempotent creation.

Every topic of the pipeline shares ``settings.partitions``: inputs must be co-partitioned
(a user's events and consent land on the same partition number) and the sanitized and
decision topics follow the same layout. The names need no Kafka client (the consent core
imports them): the admin functions import theirs when called.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

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

#: The worker's faust app id (after the prefix; also its consumer group) and its tables: faust
#: names each table's changelog ``<app id>-<table>-changelog``. ``topics`` creates them; the
#: worker never does. ``subject_keys`` is not here: its changelog is :data:`SUBJECT_KEYS`.
WORKER_APP = "privacy-pipeline"
WORKER_TABLES = ("consent", "held", "held_event", "erased", "rights_audit", "rights_audit_entry")
_STREAMS = ("navigation", "geolocation", "consent")


def sanitized(purpose: str) -> str:
    """Name of the sanitized output topic of ``purpose`` (``sanitized.<purpose>.v1``)."""
    return f"sanitized.{purpose}.v1"


@dataclasses.dataclass(frozen=True)
class TopicNames:
    """Every topic, group and changelog name the product uses, under one prefix.

    ``PRIVACY_PIPELINE_TOPIC_PREFIX`` (DESIGN.md section 3) prefixes every topic name and the
    worker group; tests and the bench isolate themselves on a shared broker with it. The one
    place names are built: every service, command and harness asks an instance.
    """

    prefix: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        """The names under ``settings.topic_prefix``."""
        return cls(settings.topic_prefix)

    @cached_property
    def navigation(self) -> str:
        return self.prefix + NAVIGATION

    @cached_property
    def geolocation(self) -> str:
        return self.prefix + GEOLOCATION

    @cached_property
    def consent(self) -> str:
        return self.prefix + CONSENT

    @cached_property
    def deadletter(self) -> str:
        return self.prefix + DEADLETTER

    @cached_property
    def decisions(self) -> str:
        return self.prefix + DECISIONS

    @cached_property
    def subject_keys(self) -> str:
        """The subject-keys topic, also the changelog of the worker's ``subject_keys`` table."""
        return self.prefix + SUBJECT_KEYS

    def sanitized(self, purpose: str) -> str:
        """``sanitized.<purpose>.v1`` under the prefix."""
        return self.prefix + sanitized(purpose)

    @cached_property
    def inputs(self) -> tuple[str, str, str]:
        """The worker's input topics: navigation, geolocation, consent."""
        return self.navigation, self.geolocation, self.consent

    def inputs_by_contract(self) -> dict[str, str]:
        """Contract name (``app.navigation.v1``...) -> name here, of each input topic."""
        return dict(zip((NAVIGATION, GEOLOCATION, CONSENT), self.inputs, strict=True))

    def stream_of(self, topic: str) -> str:
        """``navigation``, ``geolocation`` or ``consent`` for an input topic name."""
        return self._streams.get(topic, "consent")

    @cached_property
    def _streams(self) -> dict[str, str]:
        # stream_of runs for every input event: one lookup, not three names built each time.
        return dict(zip(self.inputs, _STREAMS, strict=True))

    @cached_property
    def worker_group(self) -> str:
        """The workers' consumer group, which is also their faust app id."""
        return self.prefix + WORKER_APP

    def changelog(self, table: str) -> str:
        """Changelog topic faust gives worker table ``table`` (one of :data:`WORKER_TABLES`).

        Raises:
            ValueError: ``table`` is not a worker table with a faust-named changelog.
        """
        if table not in WORKER_TABLES:
            raise ValueError(f"{table!r} is not one of the worker tables {WORKER_TABLES}")
        return f"{self.worker_group}-{table}-changelog"

    @cached_property
    def changelogs(self) -> tuple[str, ...]:
        """The changelog of every worker table, in :data:`WORKER_TABLES` order."""
        return tuple(self.changelog(t) for t in WORKER_TABLES)

    @property
    def leftovers(self) -> tuple[str, ...]:
        """Topics older workers let faust create (its leader-election topic): deleted too."""
        return (f"{self.worker_group}-__assignor-__leader",)


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
    """Every topic of the pipeline for ``purposes`` (inputs, consent, outputs, dead letters),
    named under ``settings.topic_prefix``.

    ``bounds``: the policy's erasure bounds (``policy.erasure``; None: the defaults), which set
    the input topics' retention and every compacted topic's compaction.
    """
    n, b, names = settings.partitions, bounds or ErasureBounds(), TopicNames.from_settings(settings)
    # Broker time stamps raw events: retention counts from arrival, so an import stamped days
    # ago is not deleted before the worker reads it, and no producer clock stretches the bound.
    raw = {**_delete(b.input_retention_ms), "segment.ms": str(b.segment_ms),
           "message.timestamp.type": "LogAppendTime"}
    specs = [
        TopicSpec(names.navigation, n, raw),
        TopicSpec(names.geolocation, n, raw),
        TopicSpec(names.consent, n, consent_configs(b)),
        TopicSpec(names.decisions, n, _delete()),
        TopicSpec(names.deadletter, n, {**_delete(DEADLETTER_RETENTION_MS),
                                  "segment.ms": str(DEADLETTER_SEGMENT_MS)}),
        # The worker's subject-keys table writes it (its changelog): compacted, so the latest
        # record per handle stays, and an erasure's tombstone removes the user's keys.
        TopicSpec(names.subject_keys, n, {"cleanup.policy": "compact"}),
    ]
    specs += [TopicSpec(names.sanitized(p), n, _delete()) for p in sorted(set(purposes))]
    return with_erasure_compaction(specs, b)


def worker_state_specs(settings: Settings, bounds: ErasureBounds | None = None) -> list[TopicSpec]:
    """The changelog topics of the worker's tables (compacted, one partition per input's)."""
    compact = {"cleanup.policy": "compact"}
    changelogs = TopicNames.from_settings(settings).changelogs
    specs = [TopicSpec(name, settings.partitions, compact) for name in changelogs]
    return with_erasure_compaction(specs, bounds or ErasureBounds())


def all_specs(
    settings: Settings, purposes: Iterable[str], bounds: ErasureBounds | None = None
) -> list[TopicSpec]:
    """Every topic ``privacy-pipeline topics`` creates: the pipeline's and the worker state's,
    named under ``settings.topic_prefix``."""
    specs = pipeline_specs(settings, purposes, bounds) + worker_state_specs(settings, bounds)
    return with_erasure_compaction(specs, bounds or ErasureBounds())


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
    from kafka.errors import TopicAlreadyExistsError

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
    from kafka.admin import ConfigResource, ConfigResourceType

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
