"""Pseudonyms: HMAC-SHA256 of a user id under the (purpose, epoch) pseudonym key.

Truncated to 128 bits and written as 32 lower-case hex digits (text-safe, fixed length).
Same key and id give the same pseudonym; another purpose or epoch has another random key, so
its pseudonyms cannot be linked without the keys.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac

PSEUDONYM_BYTES = 16
KEY_BYTES = 32


class PseudonymKey:
    """One pseudonym key with a pre-keyed HMAC object, copied per call (not rebuilt)."""

    __slots__ = ("_template",)

    def __init__(self, material: bytes) -> None:
        """Build from 32 raw key bytes (kept only inside the HMAC object)."""
        if len(material) != KEY_BYTES:
            raise ValueError("a pseudonym key needs 32 key bytes")
        self._template = hmac.HMAC(material, hashes.SHA256())

    def pseudonym(self, user_id: str) -> str:
        """The pseudonym of ``user_id`` (UTF-8) under this key: 32 hex digits."""
        mac = self._template.copy()
        mac.update(user_id.encode("utf-8"))
        return mac.finalize()[:PSEUDONYM_BYTES].hex()
