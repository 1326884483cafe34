"""The keyring a process holds: encrypt, decrypt, pseudonymise, and live reload.

Shaped like ``cryptography``'s Fernet: a few verbs, one opaque :class:`InvalidToken` for any
bad token except :class:`KeyDestroyed` (the data expired). Not thread-safe: use one instance
per thread or event loop. Administrative verbs (rotate, destroy, ...) are added by
:class:`keys.admin.Keyring`, which extends this class.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from keys import ops, storage
from keys.audit import AuditDraft, DestroyedIndex
from keys.epochs import epoch_of
from keys.exceptions import (
    InvalidEpoch,
    InvalidToken,
    KekMismatch,
    KeyDestroyed,
    NoKeyForEpoch,
)
from keys.fieldcrypt import FieldKey, decode_token, token_key_id
from keys.journal import commit, resolve_actor
from keys.kek import Kek
from keys.model import Body
from keys.paths import KeyPaths
from keys.spec import PurposeSpec
from keys.state import KeyState, Slot

T = TypeVar("T")
Clock = Callable[[], datetime]
Signature = tuple[int, int, int]
DEFAULT_MAX_ENCRYPTIONS = 2**30
"""Per-key encryption cap, far below the 2^32 limit for random 96-bit GCM nonces."""
MAX_LEASE = 2**20


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class KeyringCore:
    """A verified keyring plus the key objects it unwraps; see the module docstring."""

    def __init__(self, paths: KeyPaths, kek: Kek, specs: Sequence[PurposeSpec], *,
                 clock: Clock = utc_now, actor: str | None = None,
                 reload_kek: Callable[[], Kek] | None = None, lease_size: int | None = None,
                 refresh_interval_s: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """Open and verify the keyring at ``paths`` (see :func:`keys.open_keyring`).

        Raises:
            KeyringNotFound, KeyringCorrupt, KekMismatch, PolicyMismatch: as named.
        """
        self._paths = paths
        self._kek = kek
        self._reload_kek = reload_kek
        self._specs = list(specs)
        self._clock = clock
        self._actor = resolve_actor(actor)
        self._lease_size = lease_size
        self._interval = refresh_interval_s
        self._monotonic = monotonic
        self._checked = monotonic()
        self._last: dict[str, Slot] = {}
        # The slot of the time last asked per purpose, by identity: a worker asks the same
        # event time for the epoch, the pseudonym and each encrypted field.
        self._hot: dict[str, tuple[datetime, Slot]] = {}
        self._at: tuple[datetime | None, float] = (None, 0.0)  # the last time asked, in seconds
        self._state: KeyState | None = None
        self._sig: Signature | None = None
        self._pending_kek: Kek | None = None
        """The KEK a change being committed moves to (installed once the write succeeded)."""
        self._destroyed = DestroyedIndex(paths.audit_log)
        raw, sig = self._read()
        body, integrity_key = self._decode(raw)
        self._install(body, integrity_key, raw, sig)

    # ----------------------------------------------------------------- loading
    def _read(self) -> tuple[bytes, Signature]:
        try:
            with self._paths.keyring.open("rb") as handle:
                st = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            raise storage.missing(self._paths.keyring) from None
        return raw, (st.st_ino, st.st_size, st.st_mtime_ns)

    def _decode(self, raw: bytes) -> tuple[Body, bytes]:
        """Verify the file, and refuse it if it holds a key the audit log says was destroyed."""
        try:
            body, integrity_key = storage.decode(raw, self._paths.keyring, self._kek)
        except KekMismatch:
            if self._reload_kek is None:
                raise
            self._kek = self._reload_kek()  # the KEK was rewrapped by another process
            body, integrity_key = storage.decode(raw, self._paths.keyring, self._kek)
        self._destroyed.refuse_revived(body, storage.derive_key(integrity_key, "audit"),
                                       self._paths.keyring)
        return body, integrity_key

    def _install(self, body: Body, integrity_key: bytes, raw: bytes,
                 sig: Signature | None) -> None:
        ops.check_specs(body, self._specs)
        self._state = KeyState(body, self._kek, self._state)
        self._body = body
        self._integrity_key = integrity_key
        self._digest = storage.digest(raw)
        self._sig = sig
        self._last.clear()
        self._hot.clear()
        if self._lease_size is None:
            self._lease = min(MAX_LEASE, max(1, body.max_encryptions_per_key // 64))
        else:
            self._lease = max(1, min(self._lease_size, body.max_encryptions_per_key))

    def refresh(self) -> bool:
        """Reload if the keyring file changed (cheap: one ``stat`` when it did not).

        Returns:
            Whether a new keyring version was loaded.

        Raises:
            KeyringCorrupt, KekMismatch: the new file is refused; the old state is kept.
        """
        try:
            st = os.stat(self._paths.keyring)
        except FileNotFoundError:
            raise storage.missing(self._paths.keyring) from None
        if (st.st_ino, st.st_size, st.st_mtime_ns) == self._sig:
            return False
        raw, sig = self._read()
        if storage.digest(raw) == self._digest:
            self._sig = sig
            return False
        body, integrity_key = self._decode(raw)
        self._install(body, integrity_key, raw, sig)
        return True

    def refresh_if_due(self) -> bool:
        """:meth:`refresh` at most once per ``refresh_interval_s`` (call it per batch)."""
        now = self._monotonic()
        if now - self._checked < self._interval:
            return False
        self._checked = now
        return self.refresh()

    @property
    def digest(self) -> str:
        """SHA-256 of the keyring file currently loaded."""
        return self._digest

    @property
    def paths(self) -> KeyPaths:
        """The files of this keyring."""
        return self._paths

    @property
    def kek(self) -> Kek:
        """The KEK that wraps the loaded keyring."""
        return self._kek

    @property
    def actor(self) -> str:
        """Who this process records in the audit log."""
        return self._actor

    # ---------------------------------------------------------------- data path
    def _find_slot(self, purpose: str, at: datetime) -> Slot:
        assert self._state is not None  # noqa: S101 - set in __init__
        kind = self._state.kinds.get(purpose)
        if kind is None:
            raise NoKeyForEpoch(f"the keyring has no purpose {purpose!r}: run `keys ensure`")
        epoch = epoch_of(kind, at)
        slot = self._state.slots.get((purpose, epoch))
        if slot is None:
            raise NoKeyForEpoch(
                f"no key for epoch {epoch} of purpose {purpose}: run `privacy-pipeline keys ensure`"
            )
        if slot.destroyed:
            raise NoKeyForEpoch(f"epoch {epoch} of purpose {purpose} was destroyed (retention)")
        self._last[purpose] = slot
        return slot

    def epoch_of(self, purpose: str, at: datetime) -> str:
        """The epoch id of ``purpose`` that contains ``at``.

        Raises:
            NoKeyForEpoch: unknown purpose.
        """
        assert self._state is not None  # noqa: S101 - set in __init__
        try:
            return self._slot(purpose, at).epoch  # and the pseudonym and encryptions use it
        except NoKeyForEpoch:
            pass  # an epoch without a live key still has an id
        kind = self._state.kinds.get(purpose)
        if kind is None:
            raise NoKeyForEpoch(f"the keyring has no purpose {purpose!r}: run `keys ensure`")
        return epoch_of(kind, at)

    def encrypt(self, purpose: str, field: str, plaintext: bytes, at: datetime) -> str:
        """Encrypt a field under the active key of ``at``'s epoch.

        Raises:
            NoKeyForEpoch: the epoch has no live key (fail closed).
            InvalidEpoch: ``at`` is naive.
        """
        slot = self._slot(purpose, at)
        key = slot.active
        if key is None:
            raise NoKeyForEpoch(f"epoch {slot.epoch} of purpose {purpose} has no active key")
        if key.budget <= 0:
            key = self._reserve(slot)
        key.budget -= 1
        return key.encrypt(field, plaintext)

    def _slot(self, purpose: str, at: datetime) -> Slot:
        """The epoch slot of ``purpose`` containing ``at`` (cached: the last one used)."""
        hot = self._hot.get(purpose)
        if hot is not None and hot[0] is at:
            return hot[1]
        last, seconds = self._at
        if last is not at:
            if at.utcoffset() is None:
                raise InvalidEpoch("time has no UTC offset: pass a timezone-aware datetime")
            seconds = at.timestamp()
            self._at = (at, seconds)
        slot = self._last.get(purpose)  # hot path: the epoch last used by this purpose
        if slot is None or not slot.start_s <= seconds < slot.end_s:
            slot = self._find_slot(purpose, at)
        self._hot[purpose] = (at, slot)
        return slot

    def decrypt(self, purpose: str, field: str, token: str) -> bytes:
        """Decrypt a field token; the key is looked up by the id in its header.

        Raises:
            InvalidToken: malformed, tampered, other purpose/field, or unknown key.
            KeyDestroyed: the token's epoch was destroyed; the data expired.
        """
        assert self._state is not None  # noqa: S101 - set in __init__
        raw = decode_token(token)
        key_id = token_key_id(raw)
        known = self._state.by_id.get(key_id)
        if known is None and self.refresh():  # a key added since the last refresh
            known = self._state.by_id.get(key_id)
        if known is None or known.purpose != purpose:
            raise InvalidToken("token is not valid for this purpose")
        if known.key is None:
            raise KeyDestroyed(
                f"the key of epoch {known.epoch} of purpose {purpose} was destroyed: "
                "this data expired and can no longer be read"
            )
        return known.key.decrypt(field, raw)

    def pseudonym(self, purpose: str, user_id: str, at: datetime) -> str:
        """The pseudonym of ``user_id`` for ``purpose`` in ``at``'s epoch (32 hex digits).

        Raises:
            NoKeyForEpoch: the epoch has no live key (fail closed).
        """
        slot = self._slot(purpose, at)
        key = slot.pseudonym
        if key is None:
            raise NoKeyForEpoch(f"purpose {purpose} has no pseudonym key at that time")
        return key.pseudonym(user_id)

    def subject_handle(self, user_id: str) -> str:
        """The keyed handle of ``user_id`` (32 hex digits): what per-user records are keyed by.

        Stable for the keyring's life and the same for every purpose, unlike pseudonyms; it
        never leaves the pipeline's own tables and topics.

        Raises:
            NoKeyForEpoch: the keyring has no subject-handle key yet (run ``keys ensure``).
        """
        assert self._state is not None  # noqa: S101 - set in __init__
        key = self._state.handle
        if key is None:
            raise NoKeyForEpoch("the keyring has no subject-handle key: run `keys ensure`")
        return key.pseudonym(user_id)

    # ---------------------------------------------------------- writes (locked)
    def _mutate(self, change: Callable[[Body], tuple[AuditDraft | None, T]],
                kek_after: Kek | None = None) -> T:
        """Apply ``change`` to the on-disk keyring under the lock and commit it, audited."""
        self._pending_kek = None
        with storage.locked(self._paths.lock):
            raw, _ = self._read()
            body, integrity_key = self._decode(raw)
            draft, result = change(body)
            if draft is None:
                return result
            raw = commit(self._paths, body, integrity_key, draft,
                         actor=self._actor, now=self._clock())
            kek_after = self._pending_kek or kek_after
            self._pending_kek = None
            if kek_after is not None:
                self._kek = kek_after
            # Signature unknown on purpose: the next refresh compares digests.
            self._install(body, integrity_key, raw, None)
        return result

    def _reserve(self, slot: Slot) -> FieldKey:
        """Reserve a block of encryptions (rotating at the cap); return the key to use."""
        def change(body: Body) -> tuple[AuditDraft, tuple[str, int]]:
            key_id, count, retired = ops.reserve(
                body, self._kek, slot.purpose, slot.epoch, self._lease, self._clock()
            )
            if retired is not None:
                draft = AuditDraft("rotate", slot.purpose, slot.epoch, (retired, key_id),
                                   {"reason": "encryption cap reached", "reserved": str(count)})
            else:
                draft = AuditDraft("reserve", slot.purpose, slot.epoch, (key_id,),
                                   {"reserved": str(count)})
            return draft, (key_id, count)

        key_hex, count = self._mutate(change)
        assert self._state is not None  # noqa: S101 - set in __init__
        key = self._state.by_id[bytes.fromhex(key_hex)].key
        assert key is not None  # noqa: S101 - just reserved on a live epoch
        key.budget += count
        return key
