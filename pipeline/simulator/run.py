"""One simulation run: generate, compute the ground truth, produce (or write), save the truth.

The command line (``pipeline/cli/simulate.py``) and the integration tests both call
:func:`ground_truth` and the writers here, so what the tests check is what users run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.policy import Policy
from pipeline.simulator.exceptions import SimulatorError
from pipeline.simulator.traffic import Message, Traffic
from pipeline.simulator.truth import HasKey, all_keys, compute_truth


def ground_truth(
    traffic: Traffic, policy: Policy, now: datetime, has_key: HasKey = all_keys
) -> dict[str, Any]:
    """The ground-truth document of ``traffic`` processed at ``now``.

    Returns:
        ``{"seed", "start", "hours", "now", "users", "events", "chunk_size"}`` followed by
        :func:`pipeline.simulator.truth.compute_truth`'s counts, decisions and tables.
    """
    c = traffic.config
    head = {
        "seed": c.seed,
        "start": c.start.isoformat(),
        "hours": c.hours,
        "now": now.isoformat(),
        "users": c.users,
        "events": c.events,
        "chunk_size": c.chunk_size,
    }
    return {**head, **compute_truth(traffic.messages, policy, now, has_key)}


def identifiers_path(truth_path: Path) -> Path:
    """Where the raw identifiers of a run go, next to its truth file."""
    return truth_path.with_name(truth_path.stem + ".identifiers.json")


def _write(path: Path, data: bytes, private: bool = False) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        tmp.replace(path)
    except OSError as exc:
        raise SimulatorError(f"cannot write {path}: {exc.strerror}; choose another path") from None


def write_truth(truth: dict[str, Any], traffic: Traffic, path: Path) -> Path:
    """Write the truth JSON at ``path`` and the raw identifiers next to it (mode 0600).

    Returns:
        The identifiers file's path.
    """
    _write(path, json.dumps(truth, indent=1).encode() + b"\n")
    ids = identifiers_path(path)
    _write(ids, json.dumps(traffic.identifiers).encode() + b"\n", private=True)
    return ids


def write_messages(messages: Iterable[Message], path: Path) -> int:
    """Dry run: write each message value on its own line, in production order.

    The file is what ``privacy-pipeline validate`` reads (one event per line); values never
    contain a newline (compact JSON; the malformed ones are built without one).

    Returns:
        The number of lines written.
    """
    lines = [m.value for m in messages]
    _write(path, b"\n".join(lines) + b"\n", private=True)
    return len(lines)
