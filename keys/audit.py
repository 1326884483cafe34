"""The append-only, hash-chained audit log of key operations (JSON lines).

Each line is one canonical JSON entry: who, what, when, the digest of the keyring written
with it, ``prev`` = SHA-256 of the previous line (the chain), and ``mac`` = HMAC-SHA256 under
a key derived from the keyring's integrity key (so only a KEK holder can write a valid
entry). The keyring records the ``seq`` and ``prev`` of the entry written with it (the anchor),
so removing entries from the end is detected too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac as std_hmac
import os
from datetime import datetime
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives import hashes, hmac

from keys.exceptions import AuditChainBroken, KeyringRolledBack
from keys.model import AuditAnchor, Body

GENESIS = "0" * 64
_TAIL_BYTES = 65536


class AuditEntry(msgspec.Struct, forbid_unknown_fields=True):
    """One audited key operation (no key material, no user data)."""

    seq: int
    time: datetime
    actor: str
    action: str
    purpose: str | None
    epoch: str | None
    key_ids: list[str]
    detail: dict[str, str]
    keyring_digest: str
    prev: str
    mac: str = ""


@dataclasses.dataclass(frozen=True)
class AuditDraft:
    """What an operation wants recorded; sealed into an :class:`AuditEntry` on commit."""

    action: str
    purpose: str | None = None
    epoch: str | None = None
    key_ids: tuple[str, ...] = ()
    detail: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class AuditReport:
    """Result of a successful verification."""

    entries: list[AuditEntry]
    pending: int
    """Entries after the keyring's anchor: operations whose keyring write did not complete."""


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _mac(audit_key: bytes, entry: AuditEntry) -> str:
    mac = hmac.HMAC(audit_key, hashes.SHA256())
    mac.update(msgspec.json.encode(msgspec.structs.replace(entry, mac=""), order="sorted"))
    return mac.finalize().hex()


def seal(draft: AuditDraft, *, seq: int, prev: str, time: datetime, actor: str,
         keyring_digest: str, audit_key: bytes) -> bytes:
    """Build the canonical line (with trailing newline) of one entry."""
    entry = AuditEntry(
        seq=seq, time=time, actor=actor, action=draft.action, purpose=draft.purpose,
        epoch=draft.epoch, key_ids=list(draft.key_ids), detail=dict(draft.detail),
        keyring_digest=keyring_digest, prev=prev,
    )
    entry.mac = _mac(audit_key, entry)
    return msgspec.json.encode(entry, order="sorted") + b"\n"


class AuditLog:
    """The audit log file: read its head, append lines, verify the whole chain."""

    def __init__(self, path: Path) -> None:
        """Wrap the log at ``path`` (created on first append, mode 0600)."""
        self.path = path

    def exists(self) -> bool:
        """Whether the log holds at least one byte."""
        return self.path.exists() and self.path.stat().st_size > 0

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last entry, ``(0, GENESIS)`` for an empty log.

        Raises:
            AuditChainBroken: the last line is partial or unreadable.
        """
        if not self.exists():
            return 0, GENESIS
        with self.path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            tail = handle.read()
        if not tail.endswith(b"\n"):
            raise AuditChainBroken(f"audit log {self.path} ends with a partial line: "
                                   "run `privacy-pipeline keys audit --verify`")
        last = tail[:-1].rsplit(b"\n", 1)[-1]
        try:
            seq = msgspec.json.decode(last, type=AuditEntry).seq
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise AuditChainBroken(f"the last entry of audit log {self.path} is unreadable: "
                                   "run `privacy-pipeline keys audit --verify`") from None
        return seq, _line_hash(last)

    def append(self, line: bytes) -> None:
        """Append one sealed line with a single write, then fsync."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def verify(self, audit_key: bytes, anchor: AuditAnchor, keyring_digest: str,
               live_key_ids: set[str]) -> AuditReport:
        """Check every entry's MAC, the chain, the sequence and the keyring anchor.

        ``live_key_ids`` are the keys the keyring still holds: a key an entry says was
        destroyed must not be among them (that would be a keyring rolled back to a copy).

        Raises:
            AuditChainBroken: an entry was edited, removed or reordered, or the keyring changed
                without an entry or was rolled back; the message names the line.
        """
        raw = self.path.read_bytes() if self.path.exists() else b""
        if raw and not raw.endswith(b"\n"):
            raise AuditChainBroken(f"audit log {self.path} ends with a partial line")
        entries: list[AuditEntry] = []
        prev = GENESIS
        for number, line in enumerate(raw.splitlines(), start=1):
            entries.append(_check_line(line, number, prev, audit_key))
            prev = _line_hash(line)
        _check_anchor(entries, anchor, keyring_digest)
        _check_destroyed(entries, live_key_ids)
        return AuditReport(entries=entries, pending=len(entries) - anchor.seq)


def _check_line(line: bytes, number: int, prev: str, audit_key: bytes) -> AuditEntry:
    try:
        entry = msgspec.json.decode(line, type=AuditEntry)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise AuditChainBroken(f"audit line {number} is not a valid entry (edited)") from None
    if msgspec.json.encode(entry, order="sorted") != line:
        raise AuditChainBroken(f"audit line {number} was edited (not canonical)")
    if not std_hmac.compare_digest(_mac(audit_key, entry), entry.mac):
        raise AuditChainBroken(f"audit line {number} was edited (its MAC does not verify)")
    if entry.seq != number or entry.prev != prev:
        raise AuditChainBroken(
            f"audit line {number} does not follow line {number - 1}: an entry was removed, "
            "inserted or reordered"
        )
    return entry


def _check_anchor(entries: list[AuditEntry], anchor: AuditAnchor, keyring_digest: str) -> None:
    if len(entries) < anchor.seq:
        raise AuditChainBroken(
            f"audit log ends at entry {len(entries)} but the keyring was written with entry "
            f"{anchor.seq}: entries were removed from the end"
        )
    entry = entries[anchor.seq - 1] if anchor.seq > 0 else None
    if entry is None or entry.prev != anchor.prev:
        raise AuditChainBroken("the audit log does not match the keyring's anchor (replaced log?)")
    if entry.keyring_digest != keyring_digest:
        raise AuditChainBroken(
            f"the keyring differs from the one recorded in audit entry {anchor.seq}: "
            "it was changed without an audited operation"
        )


def _check_destroyed(entries: list[AuditEntry], live_key_ids: set[str]) -> None:
    for entry in entries:
        if entry.action in ("destroy", "expire"):
            revived = live_key_ids.intersection(entry.key_ids)
            if revived:
                raise AuditChainBroken(
                    f"audit entry {entry.seq} destroyed key {min(revived)}, which the keyring "
                    "holds again: the keyring was rolled back to an older copy"
                )


class DestroyedIndex:
    """Key ids the audit log records as destroyed, re-read only when the log changes.

    Only ``destroy``/``expire`` entries whose MAC verifies count: a forged line cannot make a
    keyring unopenable (``keys audit --verify`` reports it).
    """

    def __init__(self, path: Path) -> None:
        """Index the log at ``path`` (absent: nothing destroyed)."""
        self.path = path
        self._file: tuple[int, bytes] | None = None
        """(inode, audit key) the index was built for: another means a full re-read."""
        self._offset = 0
        self._ids: dict[str, int] = {}

    def destroyed(self, audit_key: bytes) -> dict[str, int]:
        """Destroyed key id -> seq of the entry that destroyed it (reads only appended lines)."""
        try:
            with self.path.open("rb") as handle:
                st = os.fstat(handle.fileno())
                if self._file != (st.st_ino, audit_key) or st.st_size < self._offset:
                    self._file, self._offset, self._ids = (st.st_ino, audit_key), 0, {}
                handle.seek(self._offset)
                tail = handle.read()
        except FileNotFoundError:
            return {}
        complete = tail[: tail.rfind(b"\n") + 1]  # a line being appended is read next time
        self._offset += len(complete)
        for key_id, seq in _destroyed_ids(complete, audit_key).items():
            self._ids.setdefault(key_id, seq)
        return self._ids

    def refuse_revived(self, body: Body, audit_key: bytes, keyring: Path) -> None:
        """Raise if ``body`` holds key material for a key the log says was destroyed.

        Raises:
            KeyringRolledBack: the keyring was restored from a copy older than a destroy.
        """
        destroyed = self.destroyed(audit_key)
        if not destroyed:
            return
        for name, purpose in body.purposes.items():
            for epoch, keys in purpose.epochs.items():
                for key in (keys.pseudonym_key, *keys.encryption_keys):
                    if key.wrapped is not None and key.id in destroyed:
                        raise KeyringRolledBack(
                            f"keyring {keyring} holds key {key.id} ({name} {epoch}), which audit "
                            f"entry {destroyed[key.id]} destroyed: it was restored from a copy "
                            "older than that destroy; refusing to use it (restore the latest "
                            "keyring.json)"
                        )


def _destroyed_ids(raw: bytes, audit_key: bytes) -> dict[str, int]:
    ids: dict[str, int] = {}
    for line in raw.splitlines():
        if b'"action":"destroy"' not in line and b'"action":"expire"' not in line:
            continue
        try:
            entry = msgspec.json.decode(line, type=AuditEntry)
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue
        if entry.action in ("destroy", "expire") and std_hmac.compare_digest(
            _mac(audit_key, entry), entry.mac
        ):
            for key_id in entry.key_ids:
                ids.setdefault(key_id, entry.seq)
    return ids
