"""Subjects: a keyed handle (no raw id) and the partition the apps' producers choose."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from pipeline.partitioner import KeyHashes
from processors.subject import partition_of, subject_of
from tests.unit.processors.conftest import FakeRing


def test_the_partition_is_the_producers_choice_for_the_user_id() -> None:
    # aiokafka (faust, the collector) and kafka-python (the simulator) agree: murmur2.
    for user in ("u-1", "contract-0042", "é-unicode", ""):
        expected = DefaultPartitioner()(user.encode(), list(range(6)), list(range(6)))
        assert partition_of(user, 6) == expected


def test_the_handle_is_keyed_and_never_the_raw_id() -> None:
    ring = FakeRing()
    subject = subject_of(ring, "u-1", 6)
    assert subject.handle == ring.subject_handle("u-1").encode()
    assert b"u-1" not in subject.handle and len(subject.handle) == 32
    assert subject_of(ring, "u-2", 6).handle != subject.handle


def test_remembered_partitions_match_and_keep_no_raw_id() -> None:
    hashes = KeyHashes()
    users = [f"contract-{i:04d}" for i in range(100)]
    for user in users * 2:
        assert partition_of(user, 6, hashes) == partition_of(user, 6)
    assert subject_of(FakeRing(), "u-1", 6, hashes).partition == partition_of("u-1", 6)
    held = b"".join(hashes.indexed())
    assert not any(user.encode() in held for user in users)
