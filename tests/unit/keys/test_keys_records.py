"""Decrypting sanitized records for an authorised purpose-key holder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from keys_support import NOW, FakeClock, destroy

import keys
from keys.records import RecordError, decrypt_line, decrypt_record
from pipeline.settings import Settings


def _record(
    ring: keys.Keyring, purpose: str = "fraud_prevention", **extra: object
) -> dict[str, Any]:
    enc = {"ip": ring.encrypt(purpose, "ip", b"192.0.2.7", NOW),
           "device_id": ring.encrypt(purpose, "device_id", "appareil-é".encode(), NOW)}
    return {"event_id": "e1", "purpose": purpose, "pseudonym": "ab" * 16, "enc": enc, **extra}


def test_decrypts_every_field_and_keeps_the_rest(ring: keys.Keyring) -> None:
    out = decrypt_record(ring, "fraud_prevention", _record(ring))
    assert out["decrypted"] == {"ip": "192.0.2.7", "device_id": "appareil-é"}
    assert "enc" not in out and out["event_id"] == "e1"


def test_binary_plaintext_is_returned_as_base64(ring: keys.Keyring) -> None:
    record = {"purpose": "geolocation",
              "enc": {"blob": ring.encrypt("geolocation", "blob", b"\xff\x00", NOW)}}
    assert decrypt_record(ring, "geolocation", record)["decrypted"] == {"blob": {"base64": "/wA="}}


def test_record_of_another_purpose_is_refused(ring: keys.Keyring) -> None:
    with pytest.raises(RecordError, match="purpose 'fraud_prevention', not 'geolocation'"):
        decrypt_record(ring, "geolocation", _record(ring))


def test_moved_token_is_refused_without_leaking_it(ring: keys.Keyring) -> None:
    record = _record(ring)
    enc = record["enc"]
    enc["ip"], enc["device_id"] = enc["device_id"], enc["ip"]
    with pytest.raises(RecordError, match="invalid token") as caught:
        decrypt_record(ring, "fraud_prevention", record)
    assert enc["ip"] not in str(caught.value)


def test_destroyed_epoch_gives_a_clear_error(config: Settings, clock: FakeClock) -> None:
    clock.advance(days=-40)
    ring, _ = keys.init_keyring(config, [keys.PurposeSpec("fraud_prevention", "month", 183)],
                                clock=clock)
    old = {"purpose": "fraud_prevention",
           "enc": {"ip": ring.encrypt("fraud_prevention", "ip", b"192.0.2.7", clock.now)}}
    clock.advance(days=40)
    ring.ensure()
    destroy(ring, "fraud_prevention", "2026-11")
    with pytest.raises(RecordError, match="key destroyed"):
        decrypt_record(ring, "fraud_prevention", old)


@pytest.mark.parametrize(
    ("line", "error"),
    [("not json", "not valid JSON"), ("[1]", "not a JSON object"),
     ('{"purpose": "fraud_prevention"}', "no encrypted fields"),
     ('{"purpose": "fraud_prevention", "enc": {"ip": 7}}', "not a string"),
     ('{"purpose": "fraud_prevention", "event_id": "e9", "enc": {"ip": "AAAA"}}',
      "invalid token")],
)
def test_bad_lines_give_an_error_line(ring: keys.Keyring, line: str, error: str) -> None:
    ok, out = decrypt_line(ring, "fraud_prevention", line, 3)
    parsed = json.loads(out)
    assert not ok and parsed["line"] == 3 and error in parsed["error"]


def test_good_line(ring: keys.Keyring) -> None:
    ok, out = decrypt_line(ring, "fraud_prevention", json.dumps(_record(ring)), 1)
    assert ok and json.loads(out)["decrypted"]["ip"] == "192.0.2.7"
