"""Where ``analytics.duckdb`` is published: the analysts' directory, outside the private data.

The data directory holds raw ids, pseudonym sets and keys; analysts get one directory of
their own holding only the aggregates. Both are private to the pipeline's account by default
(0700/0600); ``PRIVACY_PIPELINE_ANALYTICS_GROUP_READABLE=true`` opens the analysts' directory
to the account's group (0750/0640), never the data directory.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from pipeline.private import DIR_MODE, FILE_MODE, private_dir
from pipeline.settings import Settings

ANALYTICS_FILE = "analytics.duckdb"


@dataclasses.dataclass(frozen=True)
class AnalyticsTarget:
    """The analysts' directory and how open it is."""

    directory: Path
    group_readable: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> AnalyticsTarget:
        """``PRIVACY_PIPELINE_ANALYTICS_DIR`` (checked: outside the data dir) and its mode.

        Raises:
            ConfigError: the directory overlaps the data directory.
        """
        return cls(settings.analytics_directory, settings.analytics_group_readable)

    @classmethod
    def beside(cls, data_dir: Path) -> AnalyticsTarget:
        """The default target of ``data_dir``: ``<data_dir>-analytics``, private."""
        return cls(Settings(data_dir=data_dir).analytics_directory)

    @property
    def path(self) -> Path:
        """``<directory>/analytics.duckdb``."""
        return self.directory / ANALYTICS_FILE

    @property
    def file_mode(self) -> int:
        """0640 when group-readable, else 0600."""
        return 0o640 if self.group_readable else FILE_MODE

    @property
    def dir_mode(self) -> int:
        """0750 when group-readable, else 0700."""
        return 0o750 if self.group_readable else DIR_MODE

    def prepare(self) -> Path:
        """Create the directory with its mode (set exactly: the umask is 077); return it."""
        private_dir(self.directory, self.dir_mode)
        if self.directory.stat().st_uid == os.geteuid():
            os.chmod(self.directory, self.dir_mode)
        return self.directory
