"""Field tokens: AES-256-GCM, bound to purpose, field and key id; tamper-evident."""

from __future__ import annotations

import binascii
import os
import string

import pytest
from keys_support import NOW

import keys
from keys.fieldcrypt import HEADER_BYTES, NONCE_BYTES, FieldKey, decode_token, token_key_id

PLAIN = b"48.8566,2.3522"


def _raw(token: str) -> bytes:
    return decode_token(token)


def _text(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode().replace("+", "-").replace(
        "/", "_").rstrip("=")


def test_round_trip_and_header_carries_the_active_key_id(ring: keys.Keyring) -> None:
    token = ring.encrypt("geolocation", "coords", PLAIN, NOW)
    assert ring.decrypt("geolocation", "coords", token) == PLAIN
    raw = _raw(token)
    assert raw[0] == 1  # version
    active = [r for r in ring.describe() if r.purpose == "geolocation" and r.epoch == "2026-11"
              and r.role == "encryption" and r.status == "active"]
    assert token_key_id(raw).hex() == active[0].key_id
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert PLAIN not in raw


def test_every_bit_flip_of_header_nonce_ciphertext_or_tag_is_rejected(ring: keys.Keyring) -> None:
    raw = _raw(ring.encrypt("geolocation", "coords", PLAIN, NOW))
    for index in range(len(raw)):
        for bit in range(8):
            forged = bytearray(raw)
            forged[index] ^= 1 << bit
            with pytest.raises(keys.InvalidToken):
                ring.decrypt("geolocation", "coords", _text(bytes(forged)))


def test_truncated_or_extended_tokens_are_rejected(ring: keys.Keyring) -> None:
    raw = _raw(ring.encrypt("geolocation", "coords", PLAIN, NOW))
    for length in range(len(raw)):
        with pytest.raises(keys.InvalidToken):
            ring.decrypt("geolocation", "coords", _text(raw[:length]))
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("geolocation", "coords", _text(raw + b"\x00"))


def test_non_canonical_text_is_rejected(ring: keys.Keyring) -> None:
    token = ring.encrypt("geolocation", "coords", PLAIN, NOW)
    for bad in (token + "=", token + "\n", " " + token, token.replace("-", "+").replace("_", "/")
                if ("-" in token or "_" in token) else token + "+", token[:-1] + "é", ""):
        with pytest.raises(keys.InvalidToken):
            ring.decrypt("geolocation", "coords", bad)
    # Changing the last character may leave the decoded bytes equal (unused bits): refused too.
    last = token[-1]
    for char in string.ascii_letters + string.digits + "-_":
        if char != last:
            with pytest.raises(keys.InvalidToken):
                ring.decrypt("geolocation", "coords", token[:-1] + char)


def test_wrong_purpose_wrong_field_and_swapped_tokens_are_rejected(ring: keys.Keyring) -> None:
    coords = ring.encrypt("geolocation", "coords", PLAIN, NOW)
    device = ring.encrypt("fraud_prevention", "device_id", b"device-1", NOW)
    ip = ring.encrypt("fraud_prevention", "ip", b"192.0.2.1", NOW)
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("fraud_prevention", "coords", coords)  # other purpose
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("geolocation", "accuracy", coords)  # other field
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("fraud_prevention", "ip", device)  # swapped fields
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("fraud_prevention", "device_id", ip)
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("unknown_purpose", "coords", coords)
    assert ring.decrypt("fraud_prevention", "ip", ip) == b"192.0.2.1"


def test_relabelling_a_token_with_another_key_id_is_rejected(ring: keys.Keyring) -> None:
    old = _raw(ring.encrypt("geolocation", "coords", PLAIN, NOW))
    ring.rotate("geolocation")
    new = _raw(ring.encrypt("geolocation", "coords", PLAIN, NOW))
    assert token_key_id(old) != token_key_id(new)
    relabelled = new[:1] + token_key_id(old) + new[HEADER_BYTES:]
    with pytest.raises(keys.InvalidToken):
        ring.decrypt("geolocation", "coords", _text(relabelled))


def test_one_million_encryptions_never_repeat_a_nonce(ring: keys.Keyring) -> None:
    nonces: set[bytes] = set()
    encrypt, decode = ring.encrypt, decode_token
    for _ in range(1_000_000):
        nonces.add(decode(encrypt("geolocation", "coords", b"x", NOW))[
            HEADER_BYTES : HEADER_BYTES + NONCE_BYTES])
    assert len(nonces) == 1_000_000


def test_field_key_rejects_tokens_of_another_key() -> None:
    one = FieldKey(os.urandom(8), "geolocation", os.urandom(32))
    two = FieldKey(os.urandom(8), "geolocation", os.urandom(32))
    with pytest.raises(keys.InvalidToken):
        two.decrypt("coords", decode_token(one.encrypt("coords", PLAIN)))


def test_naive_time_is_a_typed_error(ring: keys.Keyring) -> None:
    ring.encrypt("geolocation", "coords", PLAIN, NOW)  # warm the per-purpose epoch cache
    with pytest.raises(keys.InvalidEpoch):
        ring.encrypt("geolocation", "coords", PLAIN, NOW.replace(tzinfo=None))
