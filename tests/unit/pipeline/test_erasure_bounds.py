"""The erasure timeline's bounds, from topic configs and broker intervals (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.erasure_timeline import (
    NO_LIMIT,
    BrokerTimers,
    Place,
    Row,
    compact_bound,
    delete_bound,
    row,
    verdict,
)

H, MIN = 3_600_000, 60_000
KAFKA = BrokerTimers(retention_check_ms=5 * MIN, cleaner_backoff_ms=15_000)
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
INPUT = {"cleanup.policy": "delete", "retention.ms": str(24 * H), "segment.ms": str(H),
         "file.delete.delay.ms": "60000", "message.timestamp.type": "CreateTime",
         "message.timestamp.after.max.ms": str(H)}  # fmt: skip
COMPACT = {"cleanup.policy": "compact", "max.compaction.lag.ms": str(H), "segment.ms": str(H),
           "delete.retention.ms": str(H), "file.delete.delay.ms": "60000",
           "message.timestamp.type": "CreateTime", "message.timestamp.after.max.ms": str(H)}


def test_delete_topic_bound_adds_segment_retention_skew_and_check() -> None:
    ms, basis = delete_bound(INPUT, KAFKA)
    assert ms == 24 * H + H + 2 * H + 5 * MIN + MIN
    assert "retention.ms 24 h" in basis and "segment.ms 1 h" in basis


def test_broker_timestamps_remove_the_skew() -> None:
    ms, _ = delete_bound({**INPUT, "message.timestamp.type": "LogAppendTime"}, KAFKA)
    assert ms == 25 * H + 5 * MIN + MIN


def test_unlimited_retention_or_skew_has_no_bound() -> None:
    assert delete_bound({**INPUT, "retention.ms": "-1"}, KAFKA)[0] is None
    skewed = {**INPUT, "message.timestamp.after.max.ms": str(NO_LIMIT)}
    assert delete_bound(skewed, KAFKA)[0] is None


def test_compacted_topic_bound_is_two_passes_plus_tombstone_retention() -> None:
    ms, basis = compact_bound(COMPACT, KAFKA)
    assert ms == H + 2 * (H + 15_000 + MIN) + H
    assert "needs appends on the partition" in basis


def test_compaction_without_max_lag_has_no_bound() -> None:
    assert compact_bound({**COMPACT, "max.compaction.lag.ms": str(NO_LIMIT)}, KAFKA)[0] is None


def test_rows_use_each_topic_s_own_configs() -> None:
    fast = {**COMPACT, "max.compaction.lag.ms": "1000", "delete.retention.ms": "1000",
            "message.timestamp.after.max.ms": "0", "file.delete.delay.ms": "0"}  # fmt: skip
    timers = BrokerTimers(1000, 1000)
    assert row(Place("c", "raw", "x", fast), T0, timers).gone_by == T0 + timedelta(seconds=5)
    assert row(Place("i", "raw", "x", INPUT), T0, KAFKA).gone_by == T0 + timedelta(
        hours=27, minutes=6)


def test_a_missing_topic_holds_nothing_and_a_delayed_start_is_added() -> None:
    assert row(Place("gone", "raw", "x", None), T0, KAFKA).gone_by == T0
    marker = row(Place("m", "pseudonymous", "x", COMPACT, starts=timedelta(days=8)), T0, KAFKA)
    assert marker.gone_by is not None and marker.gone_by > T0 + timedelta(days=8)
    assert marker.basis.startswith("after 8 days: ")


def _row(holds: str, at: datetime | None) -> Row:
    return Row("p", holds, "x", at, "b")  # type: ignore[arg-type]


def test_verdict_counts_raw_places_for_completion_and_never_the_proof() -> None:
    later, latest = T0 + timedelta(hours=1), T0 + timedelta(days=9)
    v = verdict([_row("raw", T0), _row("raw", later), _row("pseudonymous", latest),
                 _row("proof", None)])  # fmt: skip
    assert v.complete_at == later
    assert v.all_gone_at == latest


def test_one_unbounded_raw_place_means_no_completion_time() -> None:
    v = verdict([_row("raw", T0), _row("raw", None)])
    assert v.complete_at is None


def test_store_scan_finds_the_raw_id_across_chunk_boundaries(tmp_path: Path) -> None:
    from pipeline import erasure_status

    now = datetime.now(UTC)
    assert erasure_status.store_row(tmp_path, "u-1", now).basis.startswith("no worker store")
    db = tmp_path / "worker-1" / "tables" / "consent-0.db"
    db.mkdir(parents=True)
    (db / "000004.log").write_bytes(b"x" * (erasure_status._CHUNK - 3) + b"user-42" + b"y")
    (db / "CURRENT").write_bytes(b"MANIFEST-000001")
    found = erasure_status.store_row(tmp_path, "user-42", now)
    assert found.gone_by is None and "1 of 2 file(s)" in found.basis
    assert "user-42" not in found.basis + found.place + found.what
    clean = erasure_status.store_row(tmp_path, "user-43", now)
    assert clean.gone_by == now and "none of 2" in clean.basis


def test_the_audit_record_is_kept_as_proof_not_computed_from_compaction() -> None:
    kept = row(Place("audit", "proof", "x", COMPACT, starts=timedelta(days=1826)), T0, KAFKA)
    assert kept.gone_by == T0 + timedelta(days=1826)
    assert kept.basis == "kept as proof for 1826 days"


def test_bounds_are_rounded_up_to_the_second() -> None:
    odd = {**COMPACT, "max.compaction.lag.ms": "1500", "delete.retention.ms": "0",
           "message.timestamp.after.max.ms": "0", "file.delete.delay.ms": "0"}  # fmt: skip
    gone = row(Place("c", "raw", "x", odd), T0, BrokerTimers(0, 0)).gone_by
    assert gone == T0 + timedelta(seconds=3)


def test_every_topic_of_the_pipeline_is_a_place_under_the_prefix() -> None:
    from pipeline import erasure_status, topics
    from pipeline.policy import load_policy
    from pipeline.settings import Settings

    policy = load_policy()
    s = Settings.from_env({"PRIVACY_PIPELINE_TOPIC_PREFIX": "run1."})
    found = {p.name: p for p in erasure_status.places(s, policy)}
    names = topics.TopicNames("run1.")
    wanted = {t.name for t in topics.all_specs(s, policy.purposes)}
    assert names.subject_keys in wanted and wanted == set(found)
    assert found[names.navigation].holds == "raw"
    assert found[names.sanitized("advertising")].holds == "pseudonymous"
    marker = found[names.changelog("erased")]
    # The worker's own rule: lateness bound + future bound + its margin (1 h).
    extra = timedelta(minutes=policy.future_minutes, hours=1)
    assert marker.starts == timedelta(days=policy.lateness_days) + extra
