"""Walk a directory tree for anything group- or other-accessible (DESIGN: private data)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def exposed(root: Path) -> list[str]:
    """``path mode`` of every file or directory under ``root`` (itself included) with a
    group or other permission bit; symlinks are not followed."""
    found = []
    for directory, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = Path(directory, name)
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:  # a temporary file renamed meanwhile
                continue
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
                found.append(f"{path} {stat.S_IMODE(mode):04o}")
    return found


def count_entries(root: Path) -> int:
    """Files and directories under ``root`` (to show a walk checked something)."""
    return sum(len(dirs) + len(files) for _, dirs, files in os.walk(root))
