"""Per-user data keys ("subject keys"): what makes an erasure crypto-shred a user's fields.

Each (user, purpose, epoch) gets a random 32-byte data key on first use, wrapped by the
purpose key of that epoch (``ring.encrypt(purpose, "subject-key:" + handle, key, at)``: the
wrapped key cannot be moved to another user or purpose). The user's keys form one record,
keyed by their subject handle (never the raw id) on the compacted topic
``privacy.subject-keys.v1``::

    {"<purpose>/<epoch>": {"id": "<16 hex>", "wrapped": "<field token>"}, ...}

A field encrypted under a subject key is a version-2 field token (:mod:`keys.fieldcrypt`):
``2 || subject key id (8) || nonce || ciphertext || tag``, its associated data binding the
header, purpose and field as for version 1. Deleting the record (an erasure: a Kafka
tombstone) makes every such token of the user :class:`KeyDestroyed` wherever a copy went;
destroying the purpose's epoch does too, since the wrapped key no longer opens.

Shaped like Fernet: a few verbs, one opaque :class:`InvalidToken`, :class:`KeyDestroyed`
when the key is gone. Nothing here logs or returns key material.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec

from keys.exceptions import InvalidToken, KeyDestroyed, TokenError
from keys.fieldcrypt import KEY_BYTES, KEY_ID_BYTES, FieldKey, decode_token, token_key_id
from keys.fieldcrypt import token_version as token_version

VERSION = 2
"""Field-token version of fields encrypted under a subject key."""
WRAP_PREFIX = "subject-key:"


class WrappingRing(Protocol):
    """The part of :class:`keys.Keyring` that wraps and unwraps subject keys."""

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str: ...

    def decrypt(self, purpose: str, field: str, token: str) -> bytes: ...


class Entry(msgspec.Struct, frozen=True):
    """One subject key as stored: its id (hex) and the key wrapped by the purpose key."""

    id: str
    wrapped: str


Record = dict[str, Entry]
"""A user's subject keys by ``"<purpose>/<epoch>"``."""

_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder(Record)


@dataclass(frozen=True, slots=True)
class Located:
    """Where a subject key id was found: its user (handle), purpose, epoch and entry."""

    handle: str
    purpose: str
    epoch: str
    entry: Entry


def slot_name(purpose: str, epoch: str) -> str:
    """The record's key for ``purpose``'s subject key in ``epoch``."""
    return f"{purpose}/{epoch}"


def encode_record(record: Record) -> bytes:
    """A user's keys as the topic value (compact JSON)."""
    return _ENC.encode(record)


def decode_record(raw: bytes) -> Record:
    """Decode a topic value.

    Raises:
        InvalidToken: not a subject-keys record.
    """
    try:
        return _DEC.decode(raw)
    except msgspec.DecodeError:
        raise InvalidToken("not a subject-keys record") from None


def create(ring: WrappingRing, handle: str, purpose: str, at: datetime) -> tuple[FieldKey, Entry]:
    """A fresh subject key of ``handle`` for ``purpose``, wrapped under ``at``'s epoch key.

    Raises:
        keys.exceptions.NoKeyForEpoch: the epoch has no live purpose key (fail closed).
    """
    key_id, material = os.urandom(KEY_ID_BYTES), os.urandom(KEY_BYTES)
    wrapped = ring.encrypt(purpose, WRAP_PREFIX + handle, material, at)
    return FieldKey(key_id, purpose, material, VERSION), Entry(key_id.hex(), wrapped)


def unwrap(ring: WrappingRing, handle: str, purpose: str, entry: Entry) -> FieldKey:
    """The usable key of a stored entry.

    Raises:
        KeyDestroyed: the purpose's epoch that wrapped it was destroyed.
        InvalidToken: the entry is not ``handle``'s for ``purpose``, or was tampered with.
    """
    material = ring.decrypt(purpose, WRAP_PREFIX + handle, entry.wrapped)
    try:
        key_id = bytes.fromhex(entry.id)
        return FieldKey(key_id, purpose, material, VERSION)
    except ValueError:
        raise InvalidToken("not a subject key") from None


def live_only(ring: WrappingRing, handle: str, record: Record) -> Record:
    """``record`` without the entries whose wrapping epoch is gone (bounds the record to
    purposes x live epochs; run when a key is added, so at most once per user and epoch)."""
    kept: Record = {}
    for name, entry in record.items():
        try:
            unwrap(ring, handle, name.partition("/")[0], entry)
        except TokenError:
            continue
        kept[name] = entry
    return kept


def index(handle: str, record: Record) -> Iterator[tuple[bytes, Located]]:
    """Each key id of one user's record with where it was found (``keys decrypt``)."""
    for name, entry in record.items():
        purpose, _, epoch = name.partition("/")
        try:
            key_id = bytes.fromhex(entry.id)
        except ValueError:
            continue
        yield key_id, Located(handle, purpose, epoch, entry)


Lookup = Callable[[bytes], Located | None]
"""Finds the stored subject key of an id (None: no such key, e.g. shredded)."""


class SubjectDecryptor:
    """Decrypts field tokens of either version: version 1 by the keyring, version 2 through
    the subject key its header names (found by ``lookup``)."""

    def __init__(self, ring: WrappingRing, lookup: Lookup) -> None:
        self._ring = ring
        self._lookup = lookup

    def decrypt(self, purpose: str, field: str, token: str) -> bytes:
        """Decrypt one field token.

        Raises:
            KeyDestroyed: the user's subject keys were shredded (erasure), or the epoch that
                wrapped the key was destroyed.
            InvalidToken: malformed, tampered, or of another purpose or field.
        """
        if token_version(token) != VERSION:
            return self._ring.decrypt(purpose, field, token)
        raw = decode_token(token, VERSION)
        found = self._lookup(token_key_id(raw))
        if found is None:
            raise KeyDestroyed(
                "the subject key of this token is gone (the user's data was erased): "
                "this data can no longer be read"
            )
        if found.purpose != purpose:
            raise InvalidToken("token is not valid for this purpose")
        return unwrap(self._ring, found.handle, purpose, found.entry).decrypt(field, raw)
