"""Field tokens: AES-256-GCM of one field value, bound to (purpose, field, key id).

Token (base64url, no padding) of ``version (1 byte) || key id (8) || nonce (12) ||
ciphertext || tag (16)``. The associated data is a domain string, the header (version and
key id), the purpose and the field name, each length-prefixed: a token moved to another field
or purpose, or relabelled with another key id, fails to decrypt.
"""

from __future__ import annotations

import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.exceptions import InvalidToken

VERSION = 1
KEY_ID_BYTES = 8
HEADER_BYTES = 1 + KEY_ID_BYTES
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
_BODY = HEADER_BYTES + NONCE_BYTES
_DOMAIN = b"privacy-pipeline/field/1\x00"
_TO_URL = bytes.maketrans(b"+/", b"-_")
_FROM_URL = bytes.maketrans(b"-_", b"+/")


def _prefixed(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _b64url(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).translate(_TO_URL).rstrip(b"=").decode("ascii")


def decode_token(token: str, version: int = VERSION) -> bytes:
    """Decode a token's text into its bytes, accepting only the canonical encoding.

    ``version``: the token version accepted (2: subject-key tokens, :mod:`keys.subjectkeys`).

    Raises:
        InvalidToken: not canonical base64url, too short, or of an unknown version.
    """
    try:
        data = token.encode("ascii")
        raw = binascii.a2b_base64(data.translate(_FROM_URL) + b"=" * (-len(data) % 4))
    except (UnicodeEncodeError, binascii.Error, AttributeError):
        raise InvalidToken("not a field token") from None
    # Re-encoding must give the same text: no ignored characters, padding or trailing bits.
    if _b64url(raw) != token or len(raw) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES:
        raise InvalidToken("not a field token")
    if raw[0] != version:
        raise InvalidToken("not a field token")
    return raw


def token_version(token: str) -> int | None:
    """The version byte of a token's text, without checking the rest (None: not a token)."""
    try:
        head = binascii.a2b_base64(token[:4].encode("ascii").translate(_FROM_URL))
    except (UnicodeEncodeError, binascii.Error, AttributeError):
        return None
    return head[0] if head else None


def token_key_id(raw: bytes) -> bytes:
    """The key id carried in a decoded token's header."""
    return raw[1:HEADER_BYTES]


class FieldKey:
    """One AES-256-GCM encryption key of a (purpose, epoch), with its AESGCM object cached."""

    __slots__ = ("_aad", "_aead", "_header", "budget", "key_id", "purpose")

    def __init__(self, key_id: bytes, purpose: str, material: bytes,
                 version: int = VERSION) -> None:
        """Build from the key id, purpose and 32 raw key bytes (kept only inside AESGCM).

        ``version`` goes in every token's header (and so in its associated data): 2 for the
        per-user subject keys of :mod:`keys.subjectkeys`.
        """
        if len(key_id) != KEY_ID_BYTES or len(material) != KEY_BYTES:
            raise ValueError("a field key needs an 8-byte id and 32 key bytes")
        self.key_id = key_id
        self.purpose = purpose
        self._aead = AESGCM(material)
        self._header = bytes([version]) + key_id
        self._aad: dict[str, bytes] = {}
        self.budget = 0
        """Encryptions this process may still make (reserved in the keyring); the object is
        reused across reloads while its wrapped key is unchanged, so the budget survives."""

    def _aad_for(self, field: str) -> bytes:
        aad = self._aad.get(field)
        if aad is None:
            aad = _DOMAIN + self._header + _prefixed(self.purpose) + _prefixed(field)
            self._aad[field] = aad
        return aad

    def encrypt(self, field: str, plaintext: bytes) -> str:
        """Encrypt one field value under a fresh random 96-bit nonce."""
        aad = self._aad.get(field) or self._aad_for(field)
        nonce = os.urandom(NONCE_BYTES)
        raw = b"".join((self._header, nonce, self._aead.encrypt(nonce, plaintext, aad)))
        return binascii.b2a_base64(raw, newline=False).translate(_TO_URL).rstrip(b"=").decode()

    def decrypt(self, field: str, raw: bytes) -> bytes:
        """Decrypt a decoded token (see :func:`decode_token`) of this key.

        Raises:
            InvalidToken: the tag does not verify (tampered, other field or purpose).
        """
        if raw[:HEADER_BYTES] != self._header:
            raise InvalidToken("token is not under this key")
        nonce, sealed = raw[HEADER_BYTES:_BODY], raw[_BODY:]
        try:
            return self._aead.decrypt(nonce, sealed, self._aad_for(field))
        except InvalidTag:
            raise InvalidToken("token does not verify") from None
