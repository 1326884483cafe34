"""``privacy-pipeline validate [FILE|-]``: check events against contract v1.

Uses the pipeline's own validator (:func:`schemas.validator.decode_message`), so a file that
passes here is accepted by the collector and the processors, and a rejected event gets the same
reason it would get in the dead-letter topic. An item may be an envelope ``{"schema":
"batch/1", "events": [...]}`` (DESIGN.md section 3): each of its events gets its own verdict,
and its events must share one ``user_id`` (the message key the collector would give it).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Annotated, BinaryIO, TextIO

import msgspec
import typer

from pipeline.cli.app import app
from pipeline.cli.output import FormatOption, check_format
from pipeline.errors import UsageError
from schemas.envelope import Envelope
from schemas.exceptions import InvalidEvent
from schemas.validator import Item, decode, decode_message

_PEEK = 4096
_BOM = b"\xef\xbb\xbf"


def _first_byte(stream: BinaryIO) -> tuple[bytes, bytes]:
    """Read until the first non-blank byte; returns ``(bytes read so far, that byte)``."""
    head = b""
    while True:
        chunk = stream.read(_PEEK)
        if not chunk:
            return head, b""
        head += chunk
        stripped = head.removeprefix(_BOM).lstrip()
        if stripped:
            return head, stripped[:1]


def _array_items(data: bytes, source: str) -> Iterator[tuple[int, bytes]]:
    try:
        items = msgspec.json.decode(data.removeprefix(_BOM), type=list[msgspec.Raw])
    except (msgspec.DecodeError, RecursionError) as exc:
        detail = str(exc) if isinstance(exc, msgspec.DecodeError) else "nested too deeply"
        raise UsageError(
            f"{source}: not a JSON array of events ({detail}); fix it or give one event per line"
        ) from None
    for position, item in enumerate(items, 1):
        yield position, bytes(item)


def _lines(head: bytes, stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    # Streamed line by line: a JSON lines file of any size is checked in bounded memory.
    lines = head.removeprefix(_BOM).split(b"\n")
    partial = lines.pop()  # the stream continues right after ``head``, mid-line
    all_lines = chain(lines, [partial + stream.readline()], stream)
    for number, line in enumerate(all_lines, 1):
        stripped = line.strip()
        if stripped:
            yield number, stripped


def events_of(stream: BinaryIO, source: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(index, raw event)`` from a JSON array or JSON lines stream (auto-detected).

    The index is the 1-based position in the array, or the line number in JSON lines (blank
    lines are skipped). Input whose first non-blank character is ``[`` is one JSON array.
    """
    head, first = _first_byte(stream)
    if first == b"[":
        yield from _array_items(head + stream.read(), source)
    else:
        yield from _lines(head, stream)


_COLUMNS = ("index", "ok", "schema", "reason", "event")


class _Verdicts:
    """Writes one verdict per event in the chosen format (text, json lines or csv)."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self.csv is not None:
            self.csv.writerow(_COLUMNS)

    def write(self, index: int, item: Item, schema: str | None, reason: str | None) -> None:
        """One verdict; ``item.index`` is the event's place in its envelope (None: no envelope)."""
        event = item.index
        if self.csv is not None:
            ok, place = str(reason is None).lower(), "" if event is None else event
            self.csv.writerow((index, ok, schema or "", reason or "", place))
        elif self.fmt == "json":
            values = (index, reason is None, schema, reason, event)
            self.out.write(json.dumps(dict(zip(_COLUMNS, values, strict=True))) + "\n")
        else:
            at = f"#{index}" if event is None else f"#{index}.{event}"
            verdict = f"ok {schema}" if reason is None else f"invalid: {reason}"
            self.out.write(f"{at} {verdict}\n")


def _key(raw: bytes) -> bytes | None:
    """The key the collector would give an envelope: its first valid event's ``user_id``."""
    try:
        envelope = msgspec.json.decode(raw, type=Envelope)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    for part in envelope.events:
        try:
            return decode(bytes(part)).user_id.encode()
        except InvalidEvent:
            continue
    return b""  # no valid event: nothing to check the others against


def report(events: Iterable[tuple[int, bytes]], out: TextIO, quiet: bool,
           fmt: str = "table", summary_out: TextIO | None = None) -> int:
    """Print one verdict per event and a summary; returns the number of invalid events.

    With ``fmt`` json or csv, the summary goes to ``summary_out`` (stderr from the command),
    so the output holds the events' verdicts only.
    """
    verdicts = _Verdicts(out, fmt)
    schemas: Counter[str] = Counter()
    invalid = 0
    for index, raw in events:
        for item in decode_message(raw, _key(raw)):
            if isinstance(item.result, InvalidEvent):
                invalid += 1
                verdicts.write(index, item, None, item.result.reason)
                continue
            schemas[item.result.schema] += 1
            if not quiet:
                verdicts.write(index, item, item.result.schema, None)
    valid = sum(schemas.values())
    detail = ", ".join(f"{name}: {count}" for name, count in sorted(schemas.items()))
    (out if fmt == "table" else summary_out or sys.stderr).write(
        f"{valid + invalid} events: {valid} ok"
        + (f" ({detail})" if detail else "")
        + f", {invalid} invalid\n"
    )
    return invalid


def _open(file: str) -> BinaryIO:
    if file == "-":
        return sys.stdin.buffer
    try:
        return open(file, "rb")  # closed by validate()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}; check the path") from None


@app.command("validate")
def validate(
    file: Annotated[
        str, typer.Argument(help="JSON array or JSON lines file of events; - reads stdin.")
    ] = "-",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only invalid events and the summary.")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """Check events against contract v1 with the pipeline's validator.

    Prints "#INDEX ok SCHEMA" or "#INDEX invalid: REASON" per event (index: position in the
    array, or line number in JSON lines; "#INDEX.N" for event N of an envelope), then a
    summary. With --format json, one object per event (index, ok, schema, reason, event) and
    the summary on stderr; csv likewise. Exit status 1 when any event is invalid.
    """
    check_format(fmt)
    stream = _open(file)
    source = "stdin" if file == "-" else file
    try:
        invalid = report(events_of(stream, source), sys.stdout, quiet, fmt)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}; check the path") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    sys.stdout.flush()
    if invalid:
        raise typer.Exit(1)
