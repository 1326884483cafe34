"""The broker log: one file per start (the previous one kept as ``.1``), and error extraction.

When the JVM dies on start, the command shows the few log lines that explain why, stripped
of timestamps and logger names, with cluster and topic ids masked.
"""

from __future__ import annotations

import re
from pathlib import Path

_TAIL_BYTES = 64 * 1024
_MAX_LINES = 3
_PREFIX = re.compile(r"^\[[^\]]*\]\s*")
_LOGGER_SUFFIX = re.compile(r"\s*\([\w.$]+\)\s*$")
# Canonical UUIDs, and Kafka's base64 ids (22 chars mixing digits, upper and lower case).
_ID = re.compile(
    r"(?<![\w-])(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|(?=[\w-]{0,21}\d)(?=[\w-]{0,21}[A-Z])(?=[\w-]{0,21}[a-z])[\w-]{22})(?![\w-])"
)
_TELLING = re.compile(r"(?i)\b(error|fatal|invalid|failed|unable|could not)\b|exception|caused by")
# The JVM's closing words after a launch failure: true but say nothing about the cause.
_GENERIC = re.compile(r"^Error: (Could not create the Java Virtual Machine|A fatal exception)")


def rotate(log: Path) -> None:
    """Keep the previous start's log as ``<log>.1`` so each start reads only its own lines."""
    if log.exists():
        log.replace(log.with_name(log.name + ".1"))


def relevant_lines(log: Path) -> str:
    """The last few telling lines of ``log`` joined on one line ('no log output' if empty)."""
    try:
        with log.open("rb") as fh:
            fh.seek(max(0, log.stat().st_size - _TAIL_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return "no log output"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    telling = [
        ln
        for ln in lines
        if _TELLING.search(ln) and not ln.startswith("at ") and not _GENERIC.match(ln)
    ]
    picked = _dedupe(telling or lines)[-_MAX_LINES:]
    if not picked:
        return "no log output"
    return " | ".join(_clean(ln) for ln in picked)


def _clean(line: str) -> str:
    line = _LOGGER_SUFFIX.sub("", _PREFIX.sub("", line))
    return _ID.sub("<id>", line)[:300]


def _dedupe(lines: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for ln in lines:
        key = _clean(ln)
        if key not in seen:
            seen.add(key)
            out.append(ln)
    return out
