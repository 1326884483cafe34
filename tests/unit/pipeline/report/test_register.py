"""``privacy-pipeline policy register``: the record of processing from policy and live state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import build_analytics

import keys
from keys.epochs import epoch_of, epoch_start
from pipeline.cli import main
from pipeline.policy import TREATMENTS, load_policy
from pipeline.settings import Settings
from pipeline.sink.target import AnalyticsTarget

REQUIRED = ("label", "basis", "consent_required", "objectable", "categories", "recipients",
            "topics", "tables", "transfers_outside_eu", "automated_decisions",
            "retention_days", "key_epoch", "next_key_destruction", "publication", "gpc", "tcf",
            "figures")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRIVACY_PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PRIVACY_PIPELINE_POLICY", raising=False)
    monkeypatch.delenv("PRIVACY_PIPELINE_KEK", raising=False)
    monkeypatch.delenv("PRIVACY_PIPELINE_MASTER_KEY", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["policy", "register", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_register_lists_every_purpose_with_every_field(data_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    policy = load_policy()
    assert [p["purpose"] for p in doc["purposes"]] == list(policy.purposes)
    for entry in doc["purposes"]:
        purpose = policy.purposes[entry["purpose"]]
        for key in REQUIRED:
            assert entry[key] not in ("", [], {}, None), f"{entry['purpose']}.{key} is empty"
        assert set(entry["categories"]) == set(TREATMENTS)
        assert sorted(f for fs in entry["categories"].values() for f in fs) == sorted(
            purpose.fields)
        assert entry["recipients"] == list(purpose.register.recipients)
        assert entry["topics"] == [f"sanitized.{purpose.name}.v1"]
        assert "k = 5" in entry["publication"]["processing_daily"]
    assert doc["analytics"] == "not published yet" and doc["dead_letters"] is None


def test_register_reads_figures_and_key_epochs(data_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    target = AnalyticsTarget.beside(data_dir)
    target.directory.mkdir(parents=True, exist_ok=True)
    build_analytics(target.path)
    policy = load_policy()
    config = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(data_dir)})
    keys.init_keyring(config, policy.key_specs())
    html = data_dir / "register.html"
    code, out, _ = _run(capsys, "--format", "json", "--html", str(html))
    assert code == 0
    doc = json.loads(out)
    by_name = {p["purpose"]: p for p in doc["purposes"]}
    audience = by_name["audience_measurement"]
    assert audience["figures"] == {"consent_rate": 90 / 150, "kept_events": 300,
                                   "dropped_events": 200}  # no consent + withdrawn
    epochs = {r.epoch for r in keys.open_keyring(config, policy.key_specs()).describe()
              if r.purpose == "audience_measurement"}
    # the oldest live epoch goes first, retention_days after it started
    start = min(epoch_start("month", e) for e in epochs)
    assert start <= epoch_start("month", epoch_of("month", datetime.now(UTC)))
    assert audience["next_key_destruction"] == (start + timedelta(days=395)).date().isoformat()
    assert doc["dead_letters"] == 5
    page = html.read_text(encoding="utf-8")
    assert "default-src &#x27;none&#x27;" in page and "lutte contre la fraude" in page


def test_register_terminal_and_bad_format(data_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys)
    assert code == 0
    for name in load_policy().purposes:
        assert name in out
    assert "transfers outside the EU" in out and "next key destruction" in out
    code, _, err = _run(capsys, "--format", "xml")
    assert code == 1 and err.strip() == ("privacy-pipeline: error: --format must be one of "
                                         "table, json, not 'xml'")
