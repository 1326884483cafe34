"""API keys of the apps that call the collector: stored as SHA-256 hashes only.

A key is a high-entropy random string made by :func:`new_key` (``collector new-key APP``);
only ``app:sha256hex[:scope+scope]`` entries are configured, through
``PRIVACY_PIPELINE_COLLECTOR_KEYS`` (comma separated) and/or the file named by
``PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE`` (one entry per line, ``#`` comments). A presented key
is hashed and compared with every entry in constant time. Keys are never logged; only the app
name is.

Scopes say what a key may send: ``events`` (navigation/1, geolocation/1), ``consent``
(consent/1), ``rights`` (rights/1, the DPO's back office only). An entry without scopes (the
format before scopes existed) has ``events+consent``, which is also ``new-key``'s default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from pipeline.collector.exceptions import KeyConfigError
from pipeline.settings import Settings

KEY_PREFIX = "ppk_"
_APP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")

SCOPES: Final = ("events", "consent", "rights")
"""Every scope, in the order entries spell them."""
DEFAULT_SCOPES: Final = frozenset({"events", "consent"})
"""Scopes of a key whose entry names none (and the default of ``new-key``)."""
SCHEMA_SCOPES: Final = {
    "navigation/1": "events",
    "geolocation/1": "events",
    "consent/1": "consent",
    "rights/1": "rights",
}
"""The scope a key needs to send each schema."""


def new_key() -> str:
    """A fresh API key: 256 random bits, URL-safe, prefixed ``ppk_`` so leaks are greppable."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 hex digest of ``key`` (enough for a 256-bit random key; no salt needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_app_name(app: str) -> str:
    """Return ``app`` if it is a valid app name (letters, digits, ``._-``, at most 64).

    Raises:
        KeyConfigError: the name is not valid.
    """
    if not _APP_RE.match(app):
        raise KeyConfigError(
            f"app name {app!r} is invalid: use 1 to 64 letters, digits, '.', '_' or '-'"
        )
    return app


def parse_scopes(text: str, sep: str = "+") -> frozenset[str]:
    """The scopes named in ``text`` (``events+consent``; ``sep`` ``,`` on the command line).

    Raises:
        KeyConfigError: a name is not a scope, or none is given.
    """
    names = {part.strip().lower() for part in text.split(sep) if part.strip()}
    unknown = sorted(names - set(SCOPES))
    if unknown or not names:
        raise KeyConfigError(
            f"invalid scopes {text!r}: use one or more of {', '.join(SCOPES)} "
            f"(e.g. events{sep}consent)"
        )
    return frozenset(names)


def format_entry(app: str, digest: str, scopes: frozenset[str]) -> str:
    """The configuration entry ``app:sha256hex:scope+scope`` (scopes in :data:`SCOPES` order)."""
    return f"{app}:{digest}:{'+'.join(s for s in SCOPES if s in scopes)}"


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """Who called: the app name, a short id of the key (for rate limiting), its scopes."""

    app: str
    key_id: str
    scopes: frozenset[str] = DEFAULT_SCOPES


Entry = tuple[str, str] | tuple[str, str, frozenset[str]]
"""``(app, sha256hex)`` (default scopes) or ``(app, sha256hex, scopes)``."""


def _parse_entry(entry: str, source: str) -> tuple[str, str, frozenset[str]]:
    app, sep, rest = entry.strip().partition(":")
    digest, has_scopes, scopes = rest.partition(":")
    digest = digest.strip().lower()
    if not sep or not _HASH_RE.match(digest):
        raise KeyConfigError(
            f"{source}: an entry is not 'app:sha256hex[:scopes]' (64 hex digits); "
            "make one with `privacy-pipeline collector new-key APP`"
        )
    try:
        granted = parse_scopes(scopes) if has_scopes else DEFAULT_SCOPES
    except KeyConfigError as exc:
        raise KeyConfigError(f"{source}: {exc}") from None
    return check_app_name(app.strip()), digest, granted


def parse_entries(text: str, source: str) -> list[tuple[str, str, frozenset[str]]]:
    """Parse ``app:sha256hex[:scopes]`` entries separated by commas or newlines (``#`` comments).

    Args:
        text: the variable's value or the file's content.
        source: where ``text`` came from, for error messages (never the text itself).

    Raises:
        KeyConfigError: an entry is malformed.
    """
    entries = []
    for line in text.splitlines():
        for part in line.split("#", 1)[0].split(","):
            if part.strip():
                entries.append(_parse_entry(part, source))
    return entries


class KeyStore:
    """The configured key hashes; :meth:`authenticate` maps a presented key to its app."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._entries = [
            (e[0], bytes.fromhex(e[1]), e[2] if len(e) == 3 else DEFAULT_SCOPES)
            for e in entries
        ]

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        """Keys from ``settings.collector_keys`` and ``settings.collector_keys_file``.

        Raises:
            KeyConfigError: an entry is malformed or the file cannot be read.
        """
        env = settings.env_names()
        entries: list[Entry] = []
        entries += parse_entries(settings.collector_keys, env["collector_keys"])
        path: Path | None = settings.collector_keys_file
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise KeyConfigError(
                    f"{env['collector_keys_file']}: cannot read {path} ({exc.strerror}); "
                    "fix the path or unset the variable"
                ) from None
            entries += parse_entries(text, str(path))
        return cls(entries)

    def authenticate(self, presented: str | None) -> ApiKey | None:
        """The app owning ``presented``, or ``None``; compared with every entry in constant time."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8")).digest()
        found: ApiKey | None = None
        for app, stored, scopes in self._entries:
            # No early exit: the time taken must not depend on which entry matched.
            if hmac.compare_digest(digest, stored):
                found = ApiKey(app=app, key_id=stored.hex()[:12], scopes=scopes)
        return found


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (Bearer wins)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def query_key(query: Mapping[str, str]) -> str | None:
    """The key from the ``?key=`` query parameter, used by browser trackers (sendBeacon).

    What such a request may carry is limited by :mod:`pipeline.collector.browser`.
    """
    key = query.get("key")
    return key.strip() if key and key.strip() else None
