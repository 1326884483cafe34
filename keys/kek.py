"""Key-encryption-key (KEK) backends behind one small interface.

Callers only use :class:`Kek` (``kek_id``, ``backend``, ``wrap``, ``unwrap``) and
:func:`kek_from_settings`. A new backend (PKCS#11 / SoftHSM2 via ``python-pkcs11``, Vault
transit via its HTTP API) implements those four members with the key kept inside the device,
and registers a factory in ``BACKENDS``; no caller changes.

The two built-in backends hold a 32-byte master key in process memory and wrap with
AES-256-GCM: a local file (default) and an environment variable. Production should keep the
KEK in an HSM or a KMS.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.exceptions import KekError
from keys.paths import KeyPaths
from pipeline.settings import Settings

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12
_WRAP_DOMAIN = b"privacy-pipeline/kek-wrap/1\x00"
_ID_DOMAIN = b"privacy-pipeline/kek-id/1"
PRODUCTION_WARNING = (
    "WARNING: the key-encryption key is a local file ({path}). Anyone who can read it can "
    "read every purpose key. Production must keep the KEK in an HSM (PKCS#11) or a KMS "
    "(e.g. Vault transit), or at least inject it with PRIVACY_PIPELINE_KEK=env."
)


class Kek(Protocol):
    """A key-encryption key: wraps and unwraps purpose keys, never reveals itself."""

    @property
    def backend(self) -> str:
        """Backend name as in ``PRIVACY_PIPELINE_KEK`` (``file``, ``env``...)."""
        ...

    @property
    def kek_id(self) -> str:
        """A public fingerprint of this KEK (reveals nothing about it)."""
        ...

    def wrap(self, key: bytes, context: bytes) -> bytes:
        """Encrypt ``key`` bound to ``context`` (an unwrap with another context fails)."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Inverse of :meth:`wrap`; raises :class:`KekError` if tampered or foreign."""
        ...


class LocalKek:
    """A KEK held in memory: AES-256-GCM, random 96-bit nonce per wrap, context as AAD."""

    def __init__(self, master: bytes, backend: str) -> None:
        """Build from the 32 raw master-key bytes; ``backend`` names where they came from."""
        if len(master) != MASTER_KEY_BYTES:
            raise KekError(f"the master key must be {MASTER_KEY_BYTES} bytes")
        self._aead = AESGCM(master)
        self._backend = backend
        tag = hmac.HMAC(master, hashes.SHA256())
        tag.update(_ID_DOMAIN)
        self._id = tag.finalize()[:8].hex()

    @property
    def backend(self) -> str:
        """Backend name (``file`` or ``env``)."""
        return self._backend

    @property
    def kek_id(self) -> str:
        """16 hex digits derived from the master key by HMAC (one-way)."""
        return self._id

    def wrap(self, key: bytes, context: bytes) -> bytes:
        """``nonce || AES-256-GCM(key)`` with ``context`` as associated data."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, _WRAP_DOMAIN + context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Open a :meth:`wrap` output.

        Raises:
            KekError: tampered, wrapped for another context, or by another KEK.
        """
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], _WRAP_DOMAIN + context
            )
        except (InvalidTag, ValueError):
            raise KekError("a wrapped key does not open with this KEK (tampered/foreign)") from None


def decode_master_key(text: str, source: str) -> bytes:
    """Decode a base64 master key; ``source`` names where it came from for the error.

    Raises:
        KekError: not base64 of exactly 32 bytes (the value itself is never echoed).
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != MASTER_KEY_BYTES:
        raise KekError(
            f"{source} must hold {MASTER_KEY_BYTES} random bytes in base64 "
            "(generate one with `openssl rand -base64 32`)"
        )
    return raw


def create_master_file(path: Path) -> LocalKek:
    """Create a fresh random master key file, mode 0600, refusing to overwrite one.

    Raises:
        KekError: the file already exists.
    """
    master = os.urandom(MASTER_KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KekError(f"{path} already exists; refusing to overwrite a master key") from None
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # umask can only narrow it; be explicit anyway
        handle.write(base64.b64encode(master) + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return LocalKek(master, "file")


def load_master_file(path: Path) -> LocalKek:
    """Load the local master key, refusing a file others can read or write.

    Raises:
        KekError: missing, readable by group/others, or malformed.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KekError(
            f"master key {path} not found: run `privacy-pipeline keys init`, "
            "or set PRIVACY_PIPELINE_KEK=env and PRIVACY_PIPELINE_MASTER_KEY"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KekError(f"master key {path} cannot be read: {type(exc).__name__}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise KekError(f"master key {path} is accessible to group/others: chmod 600 it")
    return LocalKek(decode_master_key(text, f"master key file {path}"), "file")


def _file_backend(settings: Settings) -> Kek:
    return load_master_file(KeyPaths.from_settings(settings).master_key)


def _env_backend(settings: Settings) -> Kek:
    if not settings.master_key:
        raise KekError("PRIVACY_PIPELINE_KEK=env needs PRIVACY_PIPELINE_MASTER_KEY (base64)")
    return LocalKek(decode_master_key(settings.master_key, "PRIVACY_PIPELINE_MASTER_KEY"), "env")


BACKENDS: dict[str, Callable[[Settings], Kek]] = {"file": _file_backend, "env": _env_backend}
"""Backend name (``PRIVACY_PIPELINE_KEK``) to factory; add PKCS#11 or Vault here."""


def kek_from_settings(settings: Settings) -> Kek:
    """The KEK chosen by ``PRIVACY_PIPELINE_KEK``.

    Raises:
        KekError: unknown backend, or the backend's key is missing or malformed.
    """
    factory = BACKENDS.get(settings.kek)
    if factory is None:
        raise KekError(
            f"PRIVACY_PIPELINE_KEK={settings.kek!r} is unknown: use one of {', '.join(BACKENDS)}"
        )
    return factory(settings)
