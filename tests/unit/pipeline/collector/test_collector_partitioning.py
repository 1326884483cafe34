"""The collector's partition choice equals Kafka's default partitioner for keyed records."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner.default import DefaultPartitioner

from pipeline.partitioner import KeyHashes, key_hash


class Cluster:
    """The two metadata calls DefaultPartitioner makes, for a topic of ``n`` partitions."""

    def __init__(self, n: int) -> None:
        self.n = n

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.n))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.n))


@pytest.mark.parametrize("partitions", [1, 3, 6, 12])
def test_same_partition_as_the_default_partitioner(partitions: int) -> None:
    rng = random.Random(partitions)
    partitioner, cluster = DefaultPartitioner(), Cluster(partitions)
    keys = [f"C-{rng.randrange(10**9)}".encode() for _ in range(500)]
    keys += [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40))) for _ in range(500)]
    for key in keys:
        expected = partitioner.partition("t", None, key, None, b"v", cluster)
        assert key_hash(key) % partitions == expected


@pytest.mark.parametrize(("key", "java_murmur2"), [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
])
def test_java_client_values(key: bytes, java_murmur2: int) -> None:
    # Values of Utils.murmur2 in the Java client's UtilsTest; Java partitions by
    # Utils.toPositive(murmur2(key)) % partitions, toPositive being "& 0x7fffffff".
    assert key_hash(key) == java_murmur2 & 0x7FFFFFFF


def test_remembered_hashes_are_the_partitioners_and_hold_no_key() -> None:
    hashes = KeyHashes(size=8)
    keys = [f"user-{i}@example.fr".encode() for i in range(20)]
    for _ in range(2):  # the second pass reads what the first remembered
        assert [hashes.hash_of(k) for k in keys] == [key_hash(k) for k in keys]
    assert 0 < len(hashes) <= 8  # bounded: emptied when full
    held = b"".join(hashes.indexed())
    assert all(k not in held and k[:8] not in held for k in keys)
    # Indexed under this object's own key: another cache indexes the same id differently.
    other = KeyHashes()
    other.hash_of(keys[-1])
    assert set(other.indexed()).isdisjoint(hashes.indexed())
