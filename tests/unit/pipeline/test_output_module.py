"""The shared output layer and the shared --log-level option, without a process."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, datetime

import pytest

from pipeline.cli.options import log_level, quiet_libraries
from pipeline.cli.output import Rows, check_format, emit
from pipeline.errors import UsageError

LONG = "x" * 300
DATA = Rows(("name", "count", "when", "note"),
            [(LONG, 7, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), None), ("b", 12345, None, "y z")])


def test_piped_table_keeps_full_values_and_right_aligns_numbers() -> None:
    out = io.StringIO()  # not a terminal
    emit(DATA, "table", out)
    lines = out.getvalue().splitlines()
    assert LONG in lines[1] and "…" not in out.getvalue()
    assert lines[1].index(" 7") + 2 == lines[2].index("12345") + 5  # same right edge
    assert "2026-01-02T03:04:00+00:00" in lines[1]


def test_json_and_csv_hold_the_same_values() -> None:
    as_json, as_csv = io.StringIO(), io.StringIO()
    emit(DATA, "json", as_json)
    emit(DATA, "csv", as_csv)
    objects = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert objects[1] == {"name": "b", "count": 12345, "when": None, "note": "y z"}
    rows = list(csv.DictReader(io.StringIO(as_csv.getvalue())))
    assert [{k: "" if v is None else str(v) for k, v in o.items()} for o in objects] == rows


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="table, json, csv"):
        check_format("yaml")


def test_log_levels_one_spelling_with_faust_aliases() -> None:
    assert [log_level(v) for v in ("warn", "WARNING", "crit", "debug")] == \
        ["warning", "warning", "error", "debug"]
    with pytest.raises(UsageError, match="debug, info, warning, error"):
        log_level("loud")


def test_library_chatter_stays_below_the_default_log() -> None:
    quiet_libraries("info")
    assert logging.getLogger("aiokafka").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("faust.transport").getEffectiveLevel() == logging.WARNING
    try:
        quiet_libraries("debug")
        assert logging.getLogger("faust").getEffectiveLevel() == logging.DEBUG
    finally:
        for name in ("faust", "mode", "aiokafka", "kafka", "kafka.net", "rocksdict",
                     "processors.worker.consumer", "processors.worker.monitor"):
            logging.getLogger(name).setLevel(logging.NOTSET)
