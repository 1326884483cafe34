"""Subject keys created during a batch are written once per user, at its end."""

from __future__ import annotations

from datetime import UTC, datetime

import keys
from keys import subjectkeys as sk
from processors.subject import Subject
from processors.subjectkeys import SubjectKeys
from processors.table import MemoryTable

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
PURPOSES = ("advertising", "personalisation", "fraud_prevention")


class CountingTable(MemoryTable):
    """A memory table that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.puts += 1
        super().put(partition, key, value)


def _user(n: int) -> Subject:
    return Subject(f"{n:032x}".encode(), n % 6)


def test_a_new_users_keys_of_several_purposes_are_one_write(ring: keys.Keyring) -> None:
    table = CountingTable()
    cipher = SubjectKeys(ring, table)
    for purpose in PURPOSES:
        cipher.encrypt(_user(1), purpose, "device_id", b"d", AT)
        cipher.encrypt(_user(2), purpose, "device_id", b"d", AT)
    assert table.puts == 0  # nothing written before the batch ends
    assert cipher.take_created() is True
    assert table.puts == 2
    stored = sk.decode_record(table.get(_user(1).partition, _user(1).handle) or b"")
    assert sorted(name.partition("/")[0] for name in stored) == sorted(PURPOSES)
    assert cipher.take_created() is False  # written once


def test_keys_of_a_later_batch_extend_the_stored_record(ring: keys.Keyring) -> None:
    table = CountingTable()
    cipher = SubjectKeys(ring, table)
    token = cipher.encrypt(_user(1), "advertising", "ip", b"10.0.0.1", AT)
    cipher.take_created()
    cipher.forget_cached()  # a restart: keys come back from the table
    cipher.encrypt(_user(1), "personalisation", "ip", b"10.0.0.1", AT)
    cipher.take_created()
    stored = sk.decode_record(table.get(_user(1).partition, _user(1).handle) or b"")
    assert len(stored) == 2
    found = {kid: loc for kid, loc in sk.index(_user(1).handle.decode(), stored)}
    assert sk.SubjectDecryptor(ring, found.get).decrypt("advertising", "ip", token) == b"10.0.0.1"


def test_a_rebalance_keeps_keys_not_yet_written(ring: keys.Keyring) -> None:
    """A ciphertext already queued under a new key stays readable: the key is still written."""
    table = CountingTable()
    cipher = SubjectKeys(ring, table)
    token = cipher.encrypt(_user(3), "advertising", "ip", b"10.0.0.3", AT)
    cipher.forget_cached()
    assert cipher.take_created() is True
    stored = sk.decode_record(table.get(_user(3).partition, _user(3).handle) or b"")
    found = {kid: loc for kid, loc in sk.index(_user(3).handle.decode(), stored)}
    assert sk.SubjectDecryptor(ring, found.get).decrypt("advertising", "ip", token) == b"10.0.0.3"


def test_a_shred_in_the_batch_drops_the_unwritten_keys(ring: keys.Keyring) -> None:
    table = CountingTable()
    cipher = SubjectKeys(ring, table)
    cipher.encrypt(_user(4), "advertising", "ip", b"10.0.0.4", AT)
    cipher.shred(_user(4))
    assert cipher.take_created() is False
    assert table.get(_user(4).partition, _user(4).handle) is None
