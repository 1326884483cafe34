"""Commit one keyring change: anchor it in the audit log, append the entry, write the file.

Order (under the write lock): compute the new keyring bytes (anchored to the next audit
entry), append that entry (write-ahead, fsync), then replace the keyring atomically. A crash
in between leaves an audit entry for an operation that did not complete, never a keyring change
without an entry.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime

from keys.audit import AuditDraft, AuditLog, seal
from keys.model import AuditAnchor, Body
from keys.paths import KeyPaths
from keys.storage import derive_key, digest, render, write_atomic


def resolve_actor(configured: str | None) -> str:
    """Who acts: ``PRIVACY_PIPELINE_ACTOR`` if set, else the login name, else the uid."""
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid:{os.getuid()}"


def commit(paths: KeyPaths, body: Body, integrity_key: bytes, draft: AuditDraft, *,
           actor: str, now: datetime) -> bytes:
    """Write ``body`` with one audit entry; the caller holds the write lock.

    Returns:
        The keyring bytes written.
    """
    log = AuditLog(paths.audit_log)
    seq, prev = log.head()
    body.generation += 1
    body.audit = AuditAnchor(seq=seq + 1, prev=prev)
    raw = render(body, integrity_key)
    line = seal(draft, seq=seq + 1, prev=prev, time=now, actor=actor,
                keyring_digest=digest(raw), audit_key=derive_key(integrity_key, "audit"))
    log.append(line)
    write_atomic(paths.keyring, raw)
    return raw
