"""The worker's faust tables: changelogged to Kafka, so state survives a crash.

Keys and values are raw bytes (the app's default serializers): keys the raw user id as
UTF-8 bytes, partitioned by the producer's partitioner
(``use_partitioner``): the same murmur2 hash the apps' producers use, so a user's state lives
on the partition number of their events and consent.
"""

from __future__ import annotations

from typing import Any

from pipeline.app import app, settings


def _table(name: str, help_: str) -> Any:
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        use_partitioner=True,
        help=help_,
    )


consent = _table("consent", "Consent state per user (history per purpose, objections).")
held = _table("held", "Events held in the grace window, per user.")
erased = _table(
    "erased", "Erasure tombstones: user -> time of erasure, kept for the lateness bound."
)
audit = _table("rights_audit", "Rights requests per consent-ledger subject (no raw id).")
