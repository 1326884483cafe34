"""Where the keyring, master key, audit log and lock live under the data directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.private import private_dir
from pipeline.settings import Settings


@dataclasses.dataclass(frozen=True)
class KeyPaths:
    """Files of one keyring; all inside one directory created with mode 0700."""

    directory: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyPaths:
        """Paths under ``<data_dir>/keys``."""
        return cls(settings.data_dir / "keys")

    @property
    def keyring(self) -> Path:
        """The keyring (wrapped keys, integrity-protected JSON)."""
        return self.directory / "keyring.json"

    @property
    def master_key(self) -> Path:
        """The local master key of the ``file`` KEK backend."""
        return self.directory / "master.key"

    @property
    def pending_master_key(self) -> Path:
        """A new master key written by ``rewrap`` before it replaces the old one."""
        return self.directory / "master.key.new"

    @property
    def retired_master_key(self) -> Path:
        """The replaced master key, between the swap and its wiping (crash leftovers only)."""
        return self.directory / "master.key.retired"

    @property
    def master_lock(self) -> Path:
        """Lock file serialising master-key swaps (finishing one twice would wipe the new key)."""
        return self.directory / "master.lock"

    @property
    def audit_log(self) -> Path:
        """The append-only, hash-chained audit log (JSON lines)."""
        return self.directory / "audit.log"

    @property
    def lock(self) -> Path:
        """Lock file serialising every keyring write across processes."""
        return self.directory / "keyring.lock"

    def ensure_directory(self) -> None:
        """Create the directory and the data directory (mode 0700); tighten looser ones."""
        private_dir(self.directory.parent)
        private_dir(self.directory)
