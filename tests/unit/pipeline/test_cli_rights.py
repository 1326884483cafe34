"""``privacy-pipeline rights`` user errors: one line, exit 1, before touching Kafka."""

from __future__ import annotations

from pathlib import Path

from tests.unit.pipeline.test_cli_errors import CLOSED_PORT, assert_one_line_error, run_cli


def test_export_to_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "out.json"
    done = run_cli(
        "rights", "export", "--user", "u-1", "--output", str(target),
        PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=CLOSED_PORT,
    )  # fmt: skip
    assert_one_line_error(done, "--output", "not a file in an existing directory")
    assert "u-1" not in done.stderr


def test_export_onto_a_directory_is_one_line(tmp_path: Path) -> None:
    done = run_cli(
        "rights", "export", "--user", "u-1", "--output", str(tmp_path),
        PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=CLOSED_PORT,
    )  # fmt: skip
    assert_one_line_error(done, "--output")


def test_unknown_right_is_one_line() -> None:
    done = run_cli("rights", "request", "--user", "u-1", "--right", "oblivion")
    assert_one_line_error(done, "--right must be one of")


def test_status_with_a_bad_format_is_one_line() -> None:
    done = run_cli("rights", "status", "--user", "u-secret-1", "--format", "xml",
                   PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=CLOSED_PORT)  # fmt: skip
    assert_one_line_error(done, "--format 'xml'")
    assert "u-secret-1" not in done.stderr + done.stdout


def test_status_of_an_empty_user_is_one_line() -> None:
    done = run_cli("rights", "status", "--user", "", PRIVACY_PIPELINE_BOOTSTRAP_SERVERS=CLOSED_PORT)
    assert_one_line_error(done, "--user must not be empty")
