"""Decrypt the ``enc`` fields of sanitized records (``keys decrypt``), one record at a time.

A record that cannot be read yields an error object on its own line (the other records still
decrypt): another purpose, no ``enc``, a destroyed epoch, or a bad token. Error texts never
carry plaintext or tokens.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Protocol

from keys.exceptions import InvalidToken, KeyDestroyed


class Decryptor(Protocol):
    """What this module needs from a keyring."""

    def decrypt(self, purpose: str, field: str, token: str) -> bytes:
        """Decrypt one field token."""
        ...


class RecordError(Exception):
    """One record cannot be decrypted; the message says why (no secrets)."""


def _plain(value: bytes) -> Any:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def decrypt_record(ring: Decryptor, purpose: str, record: Any) -> dict[str, Any]:
    """The record without ``enc`` and with ``decrypted`` = field -> plaintext (UTF-8 text).

    Raises:
        RecordError: the record is not of ``purpose``, has no ``enc`` map, or a field fails.
    """
    if not isinstance(record, dict):
        raise RecordError("not a JSON object")
    if record.get("purpose") != purpose:
        raise RecordError(f"record is of purpose {record.get('purpose')!r}, not {purpose!r}")
    enc = record.get("enc")
    if not isinstance(enc, dict) or not enc:
        raise RecordError("record has no encrypted fields ('enc')")
    decrypted: dict[str, Any] = {}
    for field, token in enc.items():
        if not isinstance(token, str):
            raise RecordError(f"field {field!r}: token is not a string")
        try:
            decrypted[field] = _plain(ring.decrypt(purpose, field, token))
        except KeyDestroyed as exc:
            raise RecordError(f"field {field!r}: key destroyed: {exc}") from None
        except InvalidToken:
            raise RecordError(
                f"field {field!r}: invalid token (tampered, or not of this purpose and field)"
            ) from None
    out = {key: value for key, value in record.items() if key != "enc"}
    out["decrypted"] = decrypted
    return out


def decrypt_line(ring: Decryptor, purpose: str, line: str, number: int) -> tuple[bool, str]:
    """Decrypt one JSON line; return ``(ok, output JSON line)``."""
    try:
        record = json.loads(line)
    except ValueError:
        return False, json.dumps({"line": number, "error": "not valid JSON"})
    try:
        return True, json.dumps(decrypt_record(ring, purpose, record), ensure_ascii=False)
    except RecordError as exc:
        event_id = record.get("event_id") if isinstance(record, dict) else None
        error = {"line": number, "event_id": event_id if isinstance(event_id, str) else None,
                 "error": str(exc)}
        return False, json.dumps(error)
