"""User errors on the command line: one line on stderr, exit status 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLOSED_PORT = "127.0.0.1:9"  # discard port: nothing listens there on a dev machine


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``privacy-pipeline`` in a child process with ``env`` added to the environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_PIPELINE_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("privacy-pipeline: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_setting_is_one_line_naming_the_variable() -> None:
    done = run_cli("broker", "status", PRIVACY_PIPELINE_PARTITIONS="many")
    assert_one_line_error(done, "PRIVACY_PIPELINE_PARTITIONS='many' is invalid")


def test_remote_bootstrap_cannot_run_a_local_broker() -> None:
    done = run_cli("broker", "start", PRIVACY_PIPELINE_BOOTSTRAP_SERVERS="kafka.example:9092")
    assert_one_line_error(done, "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS", "127.0.0.1:<port>")


@pytest.mark.timeout(60)
def test_unreachable_broker_is_one_line_with_what_to_do() -> None:
    done = run_cli(
        "topics",
        PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=CLOSED_PORT,
        PRIVACY_PIPELINE_BROKER_WAIT_S="1",
    )
    assert_one_line_error(done, "no Kafka broker answered at 127.0.0.1:9", "broker start")


def test_missing_java_is_one_line(tmp_path: Path) -> None:
    # An empty PATH: neither java nor mvn can be found.
    done = run_cli(
        "broker",
        "start",
        PATH="/nonexistent",
        PRIVACY_PIPELINE_BOOTSTRAP_SERVERS="127.0.0.1:1",
        PRIVACY_PIPELINE_DATA_DIR=str(tmp_path),
    )
    assert_one_line_error(done, "java not found on PATH")


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    done = run_cli("no-such-command")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "No such command" in done.stderr
