"""Subject keys: per-user data keys wrapped by the purpose key; a deleted record shreds them."""

from __future__ import annotations

import pytest
from keys_support import NOW, FakeClock, destroy

import keys
from keys import subjectkeys as sk
from keys.fieldcrypt import FieldKey

HANDLE_A, HANDLE_B = "a" * 32, "b" * 32


def _store(ring: keys.Keyring, handle: str, purpose: str) -> tuple[FieldKey, dict[str, sk.Record]]:
    key, entry = sk.create(ring, handle, purpose, NOW)
    records = {handle: {sk.slot_name(purpose, ring.epoch_of(purpose, NOW)): entry}}
    return key, records


def _decryptor(ring: keys.Keyring, records: dict[str, sk.Record]) -> sk.SubjectDecryptor:
    found = {kid: loc for h, rec in records.items() for kid, loc in sk.index(h, rec)}
    return sk.SubjectDecryptor(ring, found.get)


def test_round_trip_and_version_2_header(ring: keys.Keyring) -> None:
    key, records = _store(ring, HANDLE_A, "geolocation")
    token = key.encrypt("coords", b"48.85,2.35")
    assert sk.token_version(token) == 2
    assert _decryptor(ring, records).decrypt("geolocation", "coords", token) == b"48.85,2.35"
    # Version-1 tokens still go to the keyring.
    v1 = ring.encrypt("geolocation", "coords", b"x", NOW)
    assert _decryptor(ring, records).decrypt("geolocation", "coords", v1) == b"x"


def test_wrong_purpose_field_or_tampering_is_invalid(ring: keys.Keyring) -> None:
    key, records = _store(ring, HANDLE_A, "geolocation")
    token = key.encrypt("coords", b"48.85,2.35")
    d = _decryptor(ring, records)
    with pytest.raises(keys.InvalidToken):
        d.decrypt("fraud_prevention", "coords", token)
    with pytest.raises(keys.InvalidToken):
        d.decrypt("geolocation", "ip", token)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(keys.InvalidToken):
        d.decrypt("geolocation", "coords", flipped)
    # A wrapped key moved to another user's record does not open.
    [(kid, loc)] = list(sk.index(HANDLE_A, records[HANDLE_A]))
    moved = sk.SubjectDecryptor(ring, {kid: sk.Located(HANDLE_B, loc.purpose, loc.epoch,
                                                         loc.entry)}.get)
    with pytest.raises(keys.InvalidToken):
        moved.decrypt("geolocation", "coords", token)


def test_shredded_user_is_key_destroyed_and_others_still_decrypt(ring: keys.Keyring) -> None:
    key_a, records = _store(ring, HANDLE_A, "fraud_prevention")
    key_b, records_b = _store(ring, HANDLE_B, "fraud_prevention")
    records.update(records_b)
    token_a, token_b = key_a.encrypt("ip", b"10.0.0.1"), key_b.encrypt("ip", b"10.0.0.2")
    del records[HANDLE_A]  # the erasure's tombstone
    d = _decryptor(ring, records)
    with pytest.raises(keys.KeyDestroyed, match="erased"):
        d.decrypt("fraud_prevention", "ip", token_a)
    assert d.decrypt("fraud_prevention", "ip", token_b) == b"10.0.0.2"


def test_destroyed_epoch_makes_its_subject_keys_unreadable(
    ring: keys.Keyring, clock: FakeClock
) -> None:
    key, records = _store(ring, HANDLE_A, "fraud_prevention")
    token = key.encrypt("ip", b"10.0.0.1")
    clock.advance(days=40)
    ring.ensure()
    destroy(ring, "fraud_prevention", ring.epoch_of("fraud_prevention", clock.now))
    with pytest.raises(keys.KeyDestroyed):
        _decryptor(ring, records).decrypt("fraud_prevention", "ip", token)
    # ... and the record drops the entry when it is next written: bounded.
    assert sk.live_only(ring, HANDLE_A, records[HANDLE_A]) == {}


def test_record_round_trips_and_refuses_garbage() -> None:
    record = {"geolocation/2026-11": sk.Entry("00" * 8, "tok")}
    assert sk.decode_record(sk.encode_record(record)) == record
    with pytest.raises(keys.InvalidToken):
        sk.decode_record(b'{"x": 1}')
