"""``privacy-pipeline validate``: verdicts, summary and exit codes on files and stdin."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main

TS = "2026-11-26T10:15:00+01:00"
NAV = {
    "schema": "navigation/1",
    "event_id": "e1",
    "user_id": "C-998877",
    "occurred_at": TS,
    "app": {"name": "mm-app", "platform": "ios", "version": "1.0"},
    "type": "screen_view",
    "screen": "home",
}
RIGHTS = {
    "schema": "rights/1",
    "event_id": "e2",
    "user_id": "C-998877",
    "occurred_at": TS,
    "right": "access",
}
BAD_LAT = {**NAV, "schema": "geolocation/1", "lat": 91, "lon": 2}
BAD_LAT.pop("type")
BAD_LAT.pop("screen")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["validate", *argv])
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def jsonl(*events: Any) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def write(tmp_path: Path, text: str | bytes, name: str = "events.json") -> str:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return str(path)


def test_array_file_with_an_invalid_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, json.dumps([NAV, BAD_LAT, RIGHTS]))
    code, out, err = run([file], capsys)
    assert code == 1
    assert out.splitlines() == [
        "#1 ok navigation/1",
        "#2 invalid: lat: expected a finite number between -90 and 90",
        "#3 ok rights/1",
        "3 events: 2 ok (navigation/1: 1, rights/1: 1), 1 invalid",
    ]
    assert err == ""


def test_all_valid_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([write(tmp_path, json.dumps([NAV, NAV], indent=2))], capsys)
    assert code == 0
    assert out.splitlines()[-1] == "2 events: 2 ok (navigation/1: 2), 0 invalid"


def test_json_lines_use_line_numbers_and_skip_blanks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "\n" + jsonl(NAV) + "   \n" + jsonl(BAD_LAT) + "not json\r\n" + json.dumps(RIGHTS)
    code, out, _ = run([write(tmp_path, text, "events.jsonl")], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[:2] == [
        "#2 ok navigation/1",
        "#4 invalid: lat: expected a finite number between -90 and 90",
    ]
    assert lines[2].startswith("#5 invalid: event: not valid JSON: invalid character")
    assert lines[3:] == [
        "#6 ok rights/1",
        "4 events: 2 ok (navigation/1: 1, rights/1: 1), 2 invalid",
    ]


def test_json_lines_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(jsonl(NAV, RIGHTS).encode())))
    code, out, _ = run(["-"], capsys)
    assert code == 0
    assert out.splitlines()[:2] == ["#1 ok navigation/1", "#2 ok rights/1"]


def test_array_from_stdin_is_the_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.dumps([RIGHTS, {"schema": "navigation/7"}]).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run([], capsys)
    assert code == 1
    assert out.splitlines()[1].startswith("#2 invalid: schema: unknown schema 'navigation/7'")


def test_quiet_prints_only_invalid_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["--quiet", write(tmp_path, jsonl(NAV, BAD_LAT, NAV))], capsys)
    assert code == 1
    assert out.splitlines() == [
        "#2 invalid: lat: expected a finite number between -90 and 90",
        "3 events: 2 ok (navigation/1: 2), 1 invalid",
    ]


def test_reasons_never_show_identifiers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [{**NAV, "user_id": "C-998877" * 40}, {**NAV, "device_id": ""}, {**BAD_LAT}]
    _, out, _ = run([write(tmp_path, json.dumps(events))], capsys)
    assert "C-998877" not in out
    assert "91" not in out


def test_oversize_line_is_one_invalid_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = json.dumps({**NAV, "screen": "s" * 70_000})
    code, out, _ = run([write(tmp_path, jsonl(NAV) + big + "\n")], capsys)
    assert code == 1
    assert out.splitlines()[1].startswith("#2 invalid: event: payload is")


def test_bom_and_long_leading_whitespace_before_an_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"\xef\xbb\xbf" + b" \n" * 5000 + json.dumps([NAV]).encode()
    code, out, _ = run([write(tmp_path, data)], capsys)
    assert (code, out.splitlines()[0]) == (0, "#1 ok navigation/1")


def test_empty_input_has_no_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([write(tmp_path, "  \n")], capsys)
    assert (code, out) == (0, "0 events: 0 ok, 0 invalid\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" + json.dumps(NAV) + ",", "events.json: not a JSON array of events"),
        ("[" * 5000, "events.json: not a JSON array of events"),
    ],
)
def test_broken_array_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    code, out, err = run([write(tmp_path, content)], capsys)
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1
    assert message in err


@pytest.mark.parametrize("which", ["missing", "directory"])
def test_unreadable_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    path = tmp_path / "nope.json" if which == "missing" else tmp_path
    code, out, err = run([str(path)], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(f"privacy-pipeline: error: cannot read {path}")
    assert len(err.splitlines()) == 1


def test_extra_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["a.json", "b.json"], capsys)
    assert code == 2


def test_console_script_reads_stdin() -> None:
    script = Path(sys.executable).parent / "privacy-pipeline"
    data = jsonl(NAV, BAD_LAT).encode()
    done = subprocess.run(
        [str(script), "validate", "-"], input=data, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stdout.decode().splitlines()[-1] == "2 events: 1 ok (navigation/1: 1), 1 invalid"
    assert done.stderr == b""


def test_each_event_of_an_envelope_gets_its_own_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {**NAV, "event_id": "e9", "user_id": "C-111111"}
    envelope = {"schema": "batch/1", "events": [NAV, BAD_LAT, RIGHTS, other]}
    code, out, _ = run([write(tmp_path, jsonl(NAV, envelope, {"schema": "batch/1"}))], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[:4] == [
        "#1 ok navigation/1",
        "#2.0 ok navigation/1",
        "#2.1 invalid: lat: expected a finite number between -90 and 90",
        "#2.2 ok rights/1",
    ]
    assert lines[4].startswith("#2.3 invalid: user_id: not the message key")
    assert "C-111111" not in out and "C-998877" not in out
    assert lines[5] == "#3 invalid: events: missing required field"
    assert lines[6] == "6 events: 3 ok (navigation/1: 2, rights/1: 1), 3 invalid"


def test_envelope_verdicts_in_json_name_the_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    envelope = {"schema": "batch/1", "events": [NAV, {"schema": "batch/1", "events": [NAV]}]}
    code, out, _ = run(["--format", "json", write(tmp_path, jsonl(envelope, NAV))], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["index"], r["event"], r["ok"]) for r in rows] == [
        (1, 0, True), (1, 1, False), (2, None, True)
    ]
    assert rows[1]["reason"].startswith("schema: an envelope cannot hold an envelope")
    assert code == 1
