"""Keyring file storage: canonical JSON, HMAC integrity, atomic 0600 writes, a write lock.

The MAC key is derived (HKDF) from a random *integrity key* kept wrapped by the KEK inside
the body, so only a KEK holder can produce a valid keyring. A file is accepted only if it is
byte-for-byte the canonical rendering of what it decodes to, so a single changed byte anywhere
is either a parse error, a non-canonical file, or a content change caught by the MAC.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac as std_hmac
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.exceptions import KekError, KekMismatch, KeyringBusy, KeyringCorrupt, KeyringNotFound
from keys.kek import Kek
from keys.model import FORMAT, Body, KeyringFile

INTEGRITY_CONTEXT = b"integrity|keyring"
_MAC_INFO = b"privacy-pipeline/keyring-mac/1"
_AUDIT_INFO = b"privacy-pipeline/audit-mac/1"
LOCK_WAIT_S = 10.0


def derive_key(integrity_key: bytes, purpose: str) -> bytes:
    """A 32-byte sub-key of the integrity key: ``"keyring"`` (file MAC) or ``"audit"``."""
    info = _MAC_INFO if purpose == "keyring" else _AUDIT_INFO
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(integrity_key)


def _body_mac(mac_key: bytes, body: Body) -> str:
    mac = hmac.HMAC(mac_key, hashes.SHA256())
    mac.update(msgspec.json.encode(body, order="sorted"))
    return mac.finalize().hex()


def _canonical(doc: KeyringFile) -> bytes:
    return msgspec.json.format(msgspec.json.encode(doc, order="sorted"), indent=1) + b"\n"


def render(body: Body, integrity_key: bytes) -> bytes:
    """The exact bytes of the keyring file for ``body``."""
    mac = _body_mac(derive_key(integrity_key, "keyring"), body)
    return _canonical(KeyringFile(format=FORMAT, body=body, mac=mac))


def digest(raw: bytes) -> str:
    """SHA-256 (hex) of the keyring file, as recorded in the audit log."""
    return hashlib.sha256(raw).hexdigest()


def _parse(raw: bytes, path: Path) -> KeyringFile:
    try:
        doc = msgspec.json.decode(raw, type=KeyringFile)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise KeyringCorrupt(
            f"keyring {path} is truncated or malformed: restore it from a backup"
        ) from None
    if doc.format != FORMAT:
        raise KeyringCorrupt(f"keyring {path} has format {doc.format!r}, expected {FORMAT}")
    if _canonical(doc) != raw:
        raise KeyringCorrupt(
            f"keyring {path} was edited or truncated (not canonical): restore it from a backup"
        )
    return doc


def peek_kek_id(path: Path) -> str | None:
    """The KEK id a keyring file claims (unverified; only to pick which master key to try)."""
    try:
        return _parse(path.read_bytes(), path).body.kek.id
    except (OSError, KeyringCorrupt):
        return None


def unwrap_integrity_key(body: Body, kek: Kek, path: Path) -> bytes:
    """Unwrap the body's integrity key with ``kek``.

    Raises:
        KekMismatch: another KEK wraps this keyring.
        KeyringCorrupt: the wrapped integrity key was tampered with.
    """
    if body.kek.id != kek.kek_id:
        raise KekMismatch(
            f"keyring {path} is wrapped by KEK {body.kek.id} ({body.kek.backend}) but the "
            f"configured KEK is {kek.kek_id} ({kek.backend}): check PRIVACY_PIPELINE_KEK and "
            "the master key"
        )
    try:
        return kek.unwrap(base64.b64decode(body.integrity_key, validate=True), INTEGRITY_CONTEXT)
    except (KekError, ValueError):
        raise KeyringCorrupt(
            f"keyring {path} fails its integrity check: restore it from a backup"
        ) from None


def decode(raw: bytes, path: Path, kek: Kek) -> tuple[Body, bytes]:
    """Parse and verify keyring bytes; return the body and its integrity key.

    Raises:
        KeyringCorrupt: truncated, malformed, non-canonical or failing the MAC.
        KekMismatch: another KEK wraps this keyring.
    """
    doc = _parse(raw, path)
    integrity_key = unwrap_integrity_key(doc.body, kek, path)
    expected = _body_mac(derive_key(integrity_key, "keyring"), doc.body)
    if not std_hmac.compare_digest(expected, doc.mac):
        raise KeyringCorrupt(f"keyring {path} fails its integrity check: restore it from a backup")
    return doc.body, integrity_key


def missing(path: Path) -> KeyringNotFound:
    """The error for an absent keyring file, saying what to do."""
    return KeyringNotFound(
        f"no keyring at {path}: run `privacy-pipeline keys init` (or set PRIVACY_PIPELINE_DATA_DIR)"
    )


def write_atomic(path: Path, raw: bytes) -> None:
    """Replace ``path`` with ``raw`` atomically: temp file (0600), fsync, rename, fsync dir."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def locked(lock_path: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the exclusive keyring write lock (flock), waiting at most ``wait_s``.

    Raises:
        KeyringBusy: another process kept the lock longer than ``wait_s``.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise KeyringBusy(
                        f"keyring lock {lock_path} held for over {wait_s:.0f}s by another "
                        "process: retry, or check for a stuck key command"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the flock
