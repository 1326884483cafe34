"""``privacy-pipeline status``: lag per stage, workers, held events, last publication.

Formatting is local for now (plain columns, full values, numbers right-aligned); the shared
output module of the command line will take it over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from pipeline.cli.app import app, settings
from pipeline.errors import ConfigError

FORMATS = ("table", "json")


@app.command()
def status(
    fmt: Annotated[str, typer.Option(
        "--format", help="table or json.", metavar="FORMAT")] = "table",
) -> None:
    """Lag of the worker group and of each sink shard, the workers, their held events and the
    last publication of analytics.duckdb, for the current settings (bounded: about 10 s at
    most when the broker does not answer)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
    from pipeline.observe.gather import gather
    from pipeline.policy import load_policy
    from pipeline.sink.config import sink_config

    current = settings()
    result = gather(current, sink_config(current, load_policy(current.policy)))
    doc = result.to_json()
    typer.echo(json.dumps(doc, indent=2) if fmt == "json" else render_table(doc))


def _cell(value: Any) -> str:
    return "unknown" if value is None else str(value)


def columns(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Aligned lines: numbers right-aligned, text left-aligned, nothing cut."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], int) or row[i] is None for row in rows)
               and any(isinstance(row[i], int) for row in rows) for i in range(len(header))]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return [line(list(header)), *(line(r) for r in cells)]


def render_table(doc: dict[str, Any]) -> str:
    """The table form of the JSON document (the same values)."""
    stage_rows: list[list[Any]] = []
    for stage in doc["stages"]:
        if not stage["topics"]:
            stage_rows.append([stage["stage"], stage["source"], "-", stage["lag"]])
        for topic, lag in stage["topics"].items():
            stage_rows.append([stage["stage"], stage["source"], topic, lag])
    lines = columns(["STAGE", "SOURCE", "TOPIC", "LAG"], stage_rows)
    totals = ", ".join(f"{s['stage']} {_cell(s['lag'])}" for s in doc["stages"])
    lines += [f"total lag: {totals}", ""]
    workers = doc["workers"]
    lines.append(f"group {doc['group']}: {doc['group_state']}, {len(workers)} worker(s)")
    if workers:
        lines += columns(["WORKER", "HOST", "PARTITIONS", "HELD", "METRICS"],
                         [[w["worker_id"], w["host"], w["partitions"], w["held"],
                           w["metrics"] or "-"] for w in workers])
    lines.append(f"held events: {_cell(doc['held_events'])} "
                 f"({doc['held_events_workers_answered']} of {len(workers)} workers answered)")
    pub = doc["publication"]
    when = ("never published" if pub["published_at"] is None
            else f"published {pub['published_at']}, {pub['age_s']} s ago")
    lines += ["", f"analytics.duckdb: {when} ({pub['path']})"]
    return "\n".join(lines)
