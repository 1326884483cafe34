"""One way every command prints rows: ``--format table|json|csv``.

``table`` is a rich table on a terminal and plain aligned columns otherwise (rich would cut
every column to fit 80 characters when piped, so ``keys list | grep`` missed rows). ``json``
is JSON lines, one object per row, with the values' own types. ``csv`` has a header row.
Values are the same in all three: a script may use any of them.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table as RichTable

from pipeline.errors import UsageError

FORMATS = ("table", "json", "csv")

FormatOption = Annotated[str, typer.Option(
    "--format", metavar="FORMAT",
    help="table (plain columns when not on a terminal), json (one object per line) or csv.")]


@dataclasses.dataclass(frozen=True)
class Rows:
    """Rows to print: column names, one tuple per row, an optional title (table only)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None


def check_format(fmt: str) -> str:
    """``fmt`` if it is one of :data:`FORMATS`.

    Raises:
        UsageError: another value; the message lists the valid ones.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def text(value: Any) -> str:
    """A value as the table and csv show it (times in ISO 8601, None empty)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def emit(data: Rows, fmt: str, out: TextIO | None = None) -> None:
    """Print ``data`` in ``fmt`` on ``out`` (default stdout)."""
    stream = out or sys.stdout
    check_format(fmt)
    if fmt == "json":
        for row in data.rows:
            obj = {c: _jsonable(v) for c, v in zip(data.columns, row, strict=True)}
            stream.write(json.dumps(obj, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(data.columns)
        writer.writerows([text(v) for v in row] for row in data.rows)
    elif stream.isatty():
        _rich(data, stream)
    else:
        _plain(data, stream)
    stream.flush()


def _numeric(data: Rows, index: int) -> bool:
    values = [row[index] for row in data.rows if row[index] is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _rich(data: Rows, stream: TextIO) -> None:
    table = RichTable(title=data.title)
    for index, column in enumerate(data.columns):
        table.add_column(column, justify="right" if _numeric(data, index) else "left",
                         overflow="fold")
    for row in data.rows:
        table.add_row(*(text(v) for v in row))
    Console(file=stream, soft_wrap=False).print(table)


def _plain(data: Rows, stream: TextIO) -> None:
    """Full values, columns two spaces apart, numbers right-aligned; never truncated."""
    cells = [list(data.columns)] + [[text(v) for v in row] for row in data.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(data.columns))]
    right = [_numeric(data, i) for i in range(len(data.columns))]
    for row in cells:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right,
                                                                     strict=True)]
        stream.write("  ".join(parts).rstrip() + "\n")
