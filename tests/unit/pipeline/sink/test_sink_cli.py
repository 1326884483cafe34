"""``privacy-pipeline sink``: user errors are one line and exit status 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.sink.target import AnalyticsTarget


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_bad_shard_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "INDEX/COUNT" in _fails(["sink", "--shard", "3/2"], capsys)


def test_publish_without_any_database_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRIVACY_PIPELINE_DATA_DIR", str(tmp_path))
    assert "nothing to publish" in _fails(["sink", "publish"], capsys)


def test_publish_of_a_stopped_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.sink.schema import open_state

    open_state(tmp_path / "pipeline.duckdb").close()
    monkeypatch.setenv("PRIVACY_PIPELINE_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        main(["sink", "publish"])
    assert exit_info.value.code == 0
    assert (AnalyticsTarget.beside(tmp_path).path).exists()
    assert "from 1 shard" in capsys.readouterr().out
