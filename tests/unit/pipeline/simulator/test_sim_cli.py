"""``privacy-pipeline simulate`` on the command line (dry run: no Kafka needed)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_PIPELINE_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import main; main()", *args],
        capture_output=True, text=True, env=full_env, timeout=120, check=False,
    )  # fmt: skip


def _one_line_error(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("privacy-pipeline: error: ") and fragment in line


@pytest.mark.timeout(120)
def test_dry_run_writes_messages_truth_and_identifiers(tmp_path: Path) -> None:
    done = run_cli("simulate", "--users", "200", "--events", "3000", "--seed", "9", "--dry-run",
                   PRIVACY_PIPELINE_DATA_DIR=str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "simulate-9.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3001
    truth = json.loads((tmp_path / "truth" / "simulate-9.json").read_text())
    assert {"seed", "start", "users", "events", "sent", "by_schema", "malformed", "decisions",
            "tables"} <= set(truth)  # fmt: skip
    assert truth["seed"] == 9 and truth["events"] == 3000 == sum(truth["sent"].values())
    assert sum(truth["malformed"].values()) == 30
    start = datetime.fromisoformat(truth["start"])
    assert start.minute == 0 and datetime.now(UTC) - start <= timedelta(hours=4)
    ids_path = tmp_path / "truth" / "simulate-9.identifiers.json"
    assert stat.S_IMODE(ids_path.stat().st_mode) == 0o600
    ids = json.loads(ids_path.read_text())
    assert len(ids["user_ids"]) == truth["active_users"] and ids["ips"] and ids["query_values"]
    # Nothing on the terminal names a user; the truth holds no raw identifier.
    text = (tmp_path / "truth" / "simulate-9.json").read_text()
    assert not any(u in done.stdout + done.stderr + text for u in ids["user_ids"])
    assert not any(d in text for d in ids["device_ids"] + ids["ips"] + ids["query_values"])
    # The file is what `validate` reads: exactly the 30 malformed messages are rejected.
    check = run_cli("validate", "--quiet", str(tmp_path / "simulate-9.jsonl"))
    assert check.returncode == 1
    detail = ", ".join(f"{k}: {v}" for k, v in truth["by_schema"].items())
    assert check.stdout.strip().splitlines()[-1] == f"3000 events: 2970 ok ({detail}), 30 invalid"


@pytest.mark.timeout(120)
def test_same_seed_and_start_give_the_same_file(tmp_path: Path) -> None:
    args = ("simulate", "--users", "50", "--events", "500", "--seed", "4", "--dry-run",
            "--start", "2026-01-05T08:00:00+01:00", "--hours", "4")  # fmt: skip
    for name in ("a", "b"):
        done = run_cli(*args, "--out", str(tmp_path / f"{name}.jsonl"),
                       "--truth", str(tmp_path / f"{name}.json"))  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    first = json.loads((tmp_path / "a.jsonl").read_bytes().split(b"\n")[0])
    assert first["occurred_at"] >= "2026-01-05T07:00"


def test_start_in_the_future_is_refused() -> None:
    done = run_cli("simulate", "--dry-run", "--start", "2099-01-01T00:00:00+00:00")
    _one_line_error(done, "future")


def test_start_without_offset_is_refused() -> None:
    done = run_cli("simulate", "--dry-run", "--start", "2026-01-05T08:00:00")
    _one_line_error(done, "offset")


def test_unreachable_broker_fails_fast_in_one_line(tmp_path: Path) -> None:
    env = {
        "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "PRIVACY_PIPELINE_BROKER_WAIT_S": "1",
        "PRIVACY_PIPELINE_DATA_DIR": str(tmp_path),
    }
    done = run_cli("simulate", "--events", "100", **env)
    _one_line_error(done, "no Kafka broker answered")
    assert not (tmp_path / "truth").exists()


def test_help_warns_about_the_identifiers_file() -> None:
    done = run_cli("simulate", "--help")
    assert done.returncode == 0
    assert "identifiers.json" in done.stdout and "RAW identifiers" in done.stdout
