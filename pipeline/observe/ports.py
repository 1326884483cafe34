"""Which port each process serves its metrics on, and how a worker advertises it.

Several workers (and sink shards) run on one host: each adds its number to the base port of
its kind, so the defaults never collide. A worker puts its port in its Kafka client id, so
``status`` finds every member's endpoint from the group description alone.
"""

from __future__ import annotations

import zlib

from pipeline.settings import Settings

#: Worker numbers are taken modulo this; the sink's base is this far above the worker's.
SPAN = 100
_CLIENT_PREFIX = "privacy-pipeline-worker-"


def worker_number(worker_id: str) -> int:
    """0..99: the id when numeric, else a stable hash of it (documented: prefer numeric ids)."""
    if worker_id.isdigit():
        return int(worker_id) % SPAN
    return zlib.crc32(worker_id.encode()) % SPAN


def worker_port(settings: Settings) -> int:
    """The worker's metrics port; 0 when turned off."""
    base = settings.worker_metrics_port
    return base + worker_number(settings.worker_id) if base else 0


def sink_port(settings: Settings, shard_index: int) -> int:
    """The metrics port of sink shard ``shard_index``; 0 when turned off."""
    base = settings.sink_metrics_port
    return base + shard_index % SPAN if base else 0


def worker_client_id(settings: Settings) -> str:
    """Kafka client id of a worker: its id and metrics port (``...-<id>@<port>``)."""
    return f"{_CLIENT_PREFIX}{settings.worker_id}@{worker_port(settings)}"


def parse_client_id(client_id: str) -> tuple[str, int] | None:
    """(worker id, metrics port) of a worker's client id; None for any other client."""
    if not client_id.startswith(_CLIENT_PREFIX):
        return None
    worker_id, sep, port = client_id[len(_CLIENT_PREFIX):].rpartition("@")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    return worker_id, int(port)
