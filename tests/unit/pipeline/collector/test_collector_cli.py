"""``privacy-pipeline collector new-key APP`` and the collector's start-up errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.collector.auth import KeyStore, parse_entries


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_PIPELINE_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from pipeline.cli import main; main()", *args],
        capture_output=True, text=True, env=full_env, timeout=60, check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privacy-pipeline: error: "), done.stderr
    return lines[0]


def test_new_key_prints_a_key_once_and_its_hash_entry() -> None:
    done = run_cli("collector", "new-key", "mm-web")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    key = next(line for line in lines if line.startswith("ppk_"))
    entry = lines[-1]
    assert done.stdout.count(key) == 1
    store = KeyStore(parse_entries(entry, "test"))
    found = store.authenticate(key)
    assert found is not None and found.app == "mm-web"


def test_new_key_refuses_a_bad_app_name() -> None:
    assert "app name" in one_line_error(run_cli("collector", "new-key", "bad name"))


def test_serving_without_keys_is_a_one_line_error() -> None:
    line = one_line_error(run_cli("collector", "--port", "1"))
    assert "no API key configured" in line and "new-key" in line


def test_malformed_key_configuration_is_a_one_line_error(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("web:not-a-hash\n")
    line = one_line_error(run_cli("collector", PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE=str(keys)))
    assert str(keys) in line and "not-a-hash" not in line


def test_new_key_scopes_default_and_explicit() -> None:
    default = run_cli("collector", "new-key", "mm-web").stdout.strip().splitlines()[-1]
    assert default.endswith(":events+consent")
    done = run_cli("collector", "new-key", "dpo-office", "--scopes", "rights")
    assert done.returncode == 0, done.stderr
    key = next(line for line in done.stdout.splitlines() if line.startswith("ppk_"))
    found = KeyStore(parse_entries(done.stdout.strip().splitlines()[-1], "t")).authenticate(key)
    assert found is not None and found.scopes == {"rights"}


def test_new_key_refuses_an_unknown_scope() -> None:
    line = one_line_error(run_cli("collector", "new-key", "web", "--scopes", "events,admin"))
    assert "events, consent, rights" in line


def test_subject_binding_misconfigured_is_a_one_line_error(tmp_path: Path) -> None:
    line = one_line_error(run_cli(
        "collector", "--port", "1",
        PRIVACY_PIPELINE_COLLECTOR_KEYS="web:" + "0" * 64,
        PRIVACY_PIPELINE_COLLECTOR_SUBJECT_JWKS=str(tmp_path / "missing.json"),
    ))
    assert "PRIVACY_PIPELINE_COLLECTOR_SUBJECT_ISSUER" in line
    line = one_line_error(run_cli(
        "collector", "--port", "1",
        PRIVACY_PIPELINE_COLLECTOR_KEYS="web:" + "0" * 64,
        PRIVACY_PIPELINE_COLLECTOR_TRUSTED_PROXIES="10.0.0.0/8,proxy.local",
    ))
    assert "PRIVACY_PIPELINE_COLLECTOR_TRUSTED_PROXIES" in line
