"""Output for scripts: piped tables keep full values, and --format json/csv hold the same values.

Every command runs as a real child process with its stdout a pipe (not a terminal), as in
``privacy-pipeline keys list | grep geolocation``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.policy import load_policy

CLI = [sys.executable, "-c", "from pipeline.cli import main; main()"]


def cli(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_PIPELINE_")}
    env.update(PRIVACY_PIPELINE_DATA_DIR=str(data_dir), PRIVACY_PIPELINE_ACTOR="output-test",
               COLUMNS="80")
    return subprocess.run([*CLI, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture(scope="module")
def keyring_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("keys")
    done = cli(data_dir, "keys", "init")
    assert done.returncode == 0, done.stderr
    return data_dir


def plain_table(text: str) -> list[dict[str, str]]:
    """Rows of a piped table: fixed-width columns that start where their header starts."""
    lines = [line for line in text.splitlines() if line.strip()]
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    header = [lines[0][a:b].strip() for a, b in bounds]
    return [{h: line[a:b].strip() for h, (a, b) in zip(header, bounds, strict=True)}
            for line in lines[1:]]


def as_text(row: dict[str, Any]) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in row.items()}


def test_piped_keys_list_greps_every_purpose(keyring_dir: Path) -> None:
    listed = cli(keyring_dir, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout  # nothing cut to fit 80 columns
    for spec in load_policy(None).key_specs():
        counted = subprocess.run(["grep", "-c", spec.name], input=listed.stdout,
                                 capture_output=True, text=True, check=False)
        assert int(counted.stdout) > 0, spec.name


def test_keys_list_json_csv_and_table_hold_the_same_values(keyring_dir: Path) -> None:
    table = plain_table(cli(keyring_dir, "keys", "list").stdout)
    as_json = [json.loads(line) for line in
               cli(keyring_dir, "keys", "list", "--format", "json").stdout.splitlines()]
    as_csv = list(csv.DictReader(io.StringIO(
        cli(keyring_dir, "keys", "list", "--format", "csv").stdout)))
    assert table and [as_text(r) for r in as_json] == table == as_csv
    assert {r["purpose"] for r in as_json} == {s.name for s in load_policy(None).key_specs()}


def test_keys_audit_formats_agree(keyring_dir: Path) -> None:
    table = cli(keyring_dir, "keys", "audit")
    as_json = cli(keyring_dir, "keys", "audit", "--format", "json")
    as_csv = cli(keyring_dir, "keys", "audit", "--format", "csv")
    assert as_json.returncode == 0 and as_csv.returncode == 0, as_json.stderr
    assert "audit log intact" in as_json.stderr and "intact" not in as_json.stdout
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    # The csv run was later: one more "audit" entry recorded by the json run.
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [as_text(r) for r in rows] == csv_rows[: len(rows)]
    assert [r["action"] for r in rows][:1] == ["init"]
    shown = plain_table(table.stdout.split("audit log intact")[0])
    assert [as_text(r) for r in rows[: len(shown)]] == shown  # the json run added one entry


def test_unknown_purpose_lists_the_valid_ones(keyring_dir: Path) -> None:
    done = cli(keyring_dir, "keys", "rotate", "--purpose", "audience")
    assert done.returncode == 1
    names = [s.name for s in load_policy(None).key_specs()]
    assert done.stderr.count("\n") == 1 and all(name in done.stderr for name in names)


def test_validate_json_gives_one_object_per_event(tmp_path: Path) -> None:
    good = {"schema": "consent/1", "event_id": "e1"}
    lines = [json.dumps(good), "{not json", json.dumps({"schema": "nope"})]
    text = cli(tmp_path, "validate", "-", stdin="\n".join(lines))
    done = cli(tmp_path, "validate", "--format", "json", "-", stdin="\n".join(lines))
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["index"] for o in objects] == [1, 2, 3]
    assert done.returncode == text.returncode == 1
    for obj in objects:
        verdict = f"#{obj['index']} ok {obj['schema']}" if obj["ok"] else \
            f"#{obj['index']} invalid: {obj['reason']}"
        assert verdict in text.stdout
    assert "3 events" in done.stderr
    as_csv = list(csv.DictReader(io.StringIO(
        cli(tmp_path, "validate", "--format", "csv", "-", stdin="\n".join(lines)).stdout)))
    assert [r["reason"] for r in as_csv] == [o["reason"] or "" for o in objects]


def test_new_key_json(tmp_path: Path) -> None:
    done = cli(tmp_path, "collector", "new-key", "web", "--format", "json")
    row = json.loads(done.stdout)
    assert row["app"] == "web" and row["entry"].startswith("web:") and row["key"]


def test_version() -> None:
    done = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True)
    assert re.fullmatch(r"privacy-pipeline \S+\n", done.stdout)


@pytest.mark.parametrize("command", [[], ["worker"], ["sink"], ["collector"], ["keys", "list"],
                                     ["keys", "decrypt"], ["validate"], ["report"], ["topics"],
                                     ["rights", "request"]])
def test_help_has_no_type_placeholders_or_markup(command: list[str]) -> None:
    done = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True, check=True)
    for junk in ("<bool>", "<str>", "<int>", "<float>", "``"):
        assert junk not in done.stdout, (command, junk)


def test_one_log_level_spelling() -> None:
    for command in (["worker"], ["sink"], ["collector"]):
        done = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True,
                              check=True)
        assert "--log-level" in done.stdout and "--loglevel" not in done.stdout, command


def test_rights_objection_to_unknown_purpose_lists_the_valid_ones(tmp_path: Path) -> None:
    done = cli(tmp_path, "rights", "request", "--user", "u1", "--right", "objection",
               "--purpose", "audience")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert all(name in done.stderr for name in load_policy(None).purposes)
