"""Typed errors of the ``keys`` package: one class per failure kind, one base class.

No message ever carries key material, a plaintext, a token or a user id; they name the
purpose, epoch, key id or file concerned and say what to do next.
"""

from __future__ import annotations

from pipeline.errors import PipelineError


class KeysError(PipelineError):
    """Base of every error raised by the ``keys`` package."""


class TokenError(KeysError):
    """A field token could not be decrypted: :class:`InvalidToken` or :class:`KeyDestroyed`."""


class InvalidToken(TokenError):
    """The token is malformed, tampered, of another purpose or field, or under an unknown key.

    Deliberately opaque (as in Fernet): the reason is not revealed.
    """


class KeyDestroyed(TokenError):
    """The token's key was destroyed (its epoch reached the purpose's retention): data expired."""


class NoKeyForEpoch(KeysError):
    """No usable key for the (purpose, epoch) asked: missing, destroyed or unknown purpose.

    Processors drop the event and count it (``dropped_no_key``): fail closed.
    """


class KeyringNotFound(KeysError):
    """The keyring file does not exist yet."""


class KeyringExists(KeysError):
    """``init`` was asked for while a keyring (or its audit log) already exists."""


class KeyringCorrupt(KeysError):
    """The keyring file is truncated, not canonical, or fails its integrity check."""


class KeyringRolledBack(KeyringCorrupt):
    """The keyring holds a key the audit log records as destroyed (restored from an old copy)."""


class KekError(KeysError):
    """The key-encryption key is missing, malformed, badly protected or unknown."""


class KekMismatch(KekError):
    """The configured KEK is not the one that wraps the keyring."""


class KeyringBusy(KeysError):
    """Another process held the keyring lock for longer than the bounded wait."""


class InvalidPurpose(KeysError):
    """A purpose spec is malformed, or a command names a purpose the keyring does not hold."""


class PolicyMismatch(KeysError):
    """The purposes given do not match the keyring (e.g. a purpose changed its epoch kind)."""


class InvalidEpoch(KeysError):
    """An epoch id or kind is malformed, or a time is naive (no UTC offset)."""


class RefusedOperation(KeysError):
    """A key operation would break an invariant (e.g. destroy the current epoch)."""


class AuditChainBroken(KeysError):
    """The audit log was edited, reordered or truncated, or does not match the keyring."""


class DecryptFailed(KeysError):
    """``keys decrypt`` could not read some records (each has an ``error`` line)."""
