"""The worker's subject keys: per-user field encryption over a table, and its shredding.

The table's changelog is ``privacy.subject-keys.v1`` (:mod:`processors.worker.tables`), keyed by the
subject handle and filed under the subject's partition like every per-user record. Unwrapped
keys stay in a bounded in-memory LRU (by handle), so a user's second and later fields cost
one AES-GCM encryption; a first use unwraps or creates the key. Keys created during a batch
are written once per user at its end (:meth:`SubjectKeys.take_created`), not once per purpose:
a new user needs a key for each of several purposes in their first batch.
:meth:`SubjectKeys.shred` deletes the record (a Kafka tombstone) and the cached keys: the
engine calls it where an erasure applies.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from keys import subjectkeys as sk
from keys.exceptions import NoKeyForEpoch, TokenError
from keys.fieldcrypt import FieldKey
from processors.subject import Subject
from processors.table import Table

CACHE_USERS = 10_000
"""Users whose unwrapped keys stay in memory (a few keys of ~1 KB each: about 10-30 MB)."""


class SubjectCipher(Protocol):
    """Encrypts a user's fields under their subject keys; forgets a user's keys for good."""

    def encrypt(self, subject: Subject, purpose: str, field: str, plaintext: bytes,
                at: datetime) -> str: ...

    def shred(self, subject: Subject) -> None: ...

    def forget_cached(self) -> None: ...

    def take_created(self) -> bool:
        """Write the keys created since the last call to the table; whether there were any.

        Those writes must be durable before any ciphertext under them leaves, or a crash
        would leave those ciphertexts unreadable for good."""
        ...


class SubjectKeys:
    """:class:`SubjectCipher` over a :class:`~processors.table.Table` and a keyring."""

    def __init__(self, ring: Any, table: Table, cache_users: int = CACHE_USERS) -> None:
        self._ring = ring
        self._table = table
        self._cache: OrderedDict[bytes, dict[str, FieldKey]] = OrderedDict()
        self._max = cache_users
        # Records with keys created since the last take_created, by handle: written then.
        self._dirty: dict[bytes, tuple[int, sk.Record]] = {}

    def take_created(self) -> bool:
        """See :meth:`SubjectCipher.take_created`."""
        if not self._dirty:
            return False
        for handle, (partition, record) in self._dirty.items():
            self._table.put(partition, handle, sk.encode_record(record))
        self._dirty.clear()
        return True

    def encrypt(self, subject: Subject, purpose: str, field: str, plaintext: bytes,
                at: datetime) -> str:
        """Encrypt one field of ``subject`` under their key of (``purpose``, ``at``'s epoch).

        Raises:
            NoKeyForEpoch: the epoch has no live purpose key, or the stored key does not open
                (fail closed: the caller drops the record).
        """
        name = sk.slot_name(purpose, self._ring.epoch_of(purpose, at))
        keys = self._cache.get(subject.handle)
        if keys is None:
            keys = self._cache[subject.handle] = {}
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(subject.handle)
        key = keys.get(name)
        if key is None:
            key = keys[name] = self._load(subject, purpose, name, at)
        return key.encrypt(field, plaintext)

    def _load(self, subject: Subject, purpose: str, name: str, at: datetime) -> FieldKey:
        handle = subject.handle.decode("ascii")
        pending = self._dirty.get(subject.handle)
        if pending is not None:
            record = pending[1]
        else:
            raw = self._table.get(subject.partition, subject.handle)
            record = {} if raw is None else sk.decode_record(raw)
        entry = record.get(name)
        if entry is not None:
            try:
                return sk.unwrap(self._ring, handle, purpose, entry)
            except TokenError:
                raise NoKeyForEpoch(f"the subject key of {name} does not open") from None
        key, entry = sk.create(self._ring, handle, purpose, at)
        if pending is None:  # pruned once per user and batch, when the record is read
            record = sk.live_only(self._ring, handle, record)
        record[name] = entry
        self._dirty[subject.handle] = (subject.partition, record)
        return key

    def shred(self, subject: Subject) -> None:
        """Delete every subject key of ``subject`` (store, changelog, memory)."""
        self._cache.pop(subject.handle, None)
        self._dirty.pop(subject.handle, None)
        self._table.delete(subject.partition, subject.handle)

    def forget_cached(self) -> None:
        """Drop the unwrapped keys (after a rebalance).

        Keys created but not yet written stay queued: ciphertexts under them may already be
        in the outbox, and the next :meth:`take_created` writes them before it is flushed.
        """
        self._cache.clear()


class Bound:
    """A :class:`SubjectCipher` bound to one user: the records' ``FieldCipher``.

    The user's subject is computed on the first encryption only (one HMAC): most records
    (navigation for audience measurement, say) encrypt nothing.
    """

    __slots__ = ("_cipher", "_subject", "_subject_of")

    def __init__(self, cipher: SubjectCipher, subject_of: Callable[[], Subject]) -> None:
        self._cipher = cipher
        self._subject_of = subject_of
        self._subject: Subject | None = None

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str:
        """Encrypt under the bound user's key of (``purpose``, ``at``'s epoch)."""
        if self._subject is None:
            self._subject = self._subject_of()
        return self._cipher.encrypt(self._subject, purpose, field, plaintext, at)
