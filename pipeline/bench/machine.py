"""What the figures were measured on: CPU, memory, Python and Kafka versions."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.broker import KAFKA_VERSION


@dataclass(frozen=True)
class Machine:
    """A description of the host, for benchmark reports."""

    cpus: int
    cpu_model: str
    memory_gb: float
    python: str
    kafka: str
    os: str


def _cpu_model(cpuinfo: Path) -> str:
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb(meminfo: Path) -> float:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def describe(proc: Path = Path("/proc")) -> Machine:
    """Describe this machine (Linux ``/proc`` when available).

    Args:
        proc: where procfs is mounted (tests pass a fake one).
    """
    return Machine(
        cpus=os.cpu_count() or 1,
        cpu_model=_cpu_model(proc / "cpuinfo"),
        memory_gb=_memory_gb(proc / "meminfo"),
        python=sys.version.split()[0],
        kafka=KAFKA_VERSION,
        os=f"{platform.system()} {platform.release()}",
    )
