"""``privacy-pipeline keys …`` end to end, in-process, against a temp data dir."""

from __future__ import annotations

import base64
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import keys
from pipeline.cli import main
from pipeline.settings import Settings

SPECS = [
    keys.PurposeSpec("geolocation", "month", 395),
    keys.PurposeSpec("fraud_prevention", "month", 183),
    keys.PurposeSpec("consent_ledger", "day", 3),
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PRIVACY_PIPELINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PRIVACY_PIPELINE_ACTOR", "sec-team")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("PRIVACY_PIPELINE_KEK", raising=False)
    monkeypatch.delenv("PRIVACY_PIPELINE_MASTER_KEY", raising=False)
    monkeypatch.setattr("pipeline.cli.keys.policy_specs", lambda config: SPECS)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
        stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        main(["keys", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ring(data_dir: Path, kek: keys.Kek | None = None) -> keys.Keyring:
    config = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(data_dir)})
    return keys.open_keyring(config, SPECS, kek=kek)


def _now() -> datetime:
    return datetime.now(UTC)


def test_init_creates_0600_files_and_warns_loudly(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, monkeypatch, "init")
    assert code == 0, err
    assert "keyring created" in out and "3 purposes" in out
    assert "WARNING" in err and "HSM" in err
    for name in ("keyring.json", "master.key", "audit.log"):
        assert (data_dir / "keys" / name).stat().st_mode & 0o777 == 0o600
    code, out, err = run(capsys, monkeypatch, "init")
    assert code == 1 and "already exists" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_list_prints_metadata_but_no_secret(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "init")
    code, out, _ = run(capsys, monkeypatch, "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows
    assert set(rows[0]) == {"purpose", "epoch", "epoch_status", "role", "key_id", "status",
                            "created_at", "destroyed_at", "reserved"}
    keyring = json.loads((data_dir / "keys" / "keyring.json").read_text())
    wrapped = [k["wrapped"] for p in keyring["body"]["purposes"].values()
               for e in p["epochs"].values() for k in [e["pseudonym_key"], *e["encryption_keys"]]]
    master = (data_dir / "keys" / "master.key").read_text().strip()
    code, table, _ = run(capsys, monkeypatch, "list")
    assert code == 0 and rows[0]["key_id"] in table
    for secret in [*wrapped, master, keyring["body"]["integrity_key"]]:
        assert secret not in out and secret not in table


def test_rotate_then_old_key_is_decrypt_only(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "init")
    token = _ring(data_dir).encrypt("geolocation", "coords", b"p", _now())
    code, out, _ = run(capsys, monkeypatch, "rotate", "--purpose", "geolocation")
    assert code == 0 and "decrypt-only" in out
    _, listing, _ = run(capsys, monkeypatch, "list", "--json")
    statuses = {r["key_id"]: r["status"] for r in map(json.loads, listing.splitlines())}
    old_id = keys.fieldcrypt.token_key_id(keys.fieldcrypt.decode_token(token)).hex()
    assert statuses[old_id] == "decrypt-only"
    code, _, err = run(capsys, monkeypatch, "rotate", "--purpose", "nope")
    assert code == 1 and "no purpose 'nope'" in err


def _records(data_dir: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> Path:
    """Records of an old (to be destroyed) epoch, the current epoch and another purpose."""
    past = _now() - timedelta(days=40)
    config = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": str(data_dir)})
    keys.init_keyring(config, SPECS, clock=lambda: past)
    assert run(capsys, monkeypatch, "ensure")[0] == 0
    ring = _ring(data_dir)
    lines = []
    for event_id, purpose, at in (("old", "fraud_prevention", past),
                                  ("new", "fraud_prevention", _now()),
                                  ("geo", "geolocation", _now())):
        token = ring.encrypt(purpose, "ip", f"ip-of-{event_id}".encode(), at)
        lines.append(json.dumps({"event_id": event_id, "purpose": purpose, "enc": {"ip": token}}))
    source = data_dir / "records.jsonl"
    source.write_text("\n".join(lines) + "\n\n")
    return source


def test_decrypt_reads_records_with_per_record_errors(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _records(data_dir, capsys, monkeypatch)
    current = keys.epoch_of("month", _now())
    code, out, err = run(capsys, monkeypatch, "destroy", "--purpose", "fraud_prevention",
                         "--before", current, "--yes")
    assert code == 0 and "destroyed fraud_prevention epochs" in out
    code, out, err = run(capsys, monkeypatch, "decrypt", "--purpose", "fraud_prevention",
                         str(source))
    results = {r.get("event_id"): r for r in map(json.loads, out.splitlines())}
    assert code == 1 and "2 of 3 records" in err and len(err.strip().splitlines()) == 1
    assert results["new"]["decrypted"] == {"ip": "ip-of-new"} and "enc" not in results["new"]
    assert "key destroyed" in results["old"]["error"] and "ip-of" not in results["old"]["error"]
    assert "not 'fraud_prevention'" in results["geo"]["error"]
    code, out, _ = run(capsys, monkeypatch, "decrypt", "-p", "geolocation", "-",
                       stdin=source.read_text().splitlines()[2] + "\n")
    assert code == 0 and json.loads(out)["decrypted"] == {"ip": "ip-of-geo"}
    entries = _ring(data_dir).verify_audit().entries
    assert [e.action for e in entries if e.action == "decrypt"] == ["decrypt", "decrypt"]
    assert {e.actor for e in entries if e.action in ("ensure", "destroy", "decrypt")} == {
        "sec-team"}


def test_destroy_asks_for_confirmation(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _records(data_dir, capsys, monkeypatch)
    current = keys.epoch_of("month", _now())
    code, _, _ = run(capsys, monkeypatch, "destroy", "-p", "fraud_prevention", "--before",
                     current, stdin="n\n")
    assert code == 1
    assert all(r.status != "destroyed" for r in _ring(data_dir).describe())
    code, _, err = run(capsys, monkeypatch, "destroy", "-p", "fraud_prevention", "--before",
                       keys.next_epoch("month", current), "--yes")
    assert code == 1 and "current epoch" in err


def test_expire_destroys_epochs_past_retention(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _records(data_dir, capsys, monkeypatch)  # consent_ledger days from 47 days ago
    code, out, _ = run(capsys, monkeypatch, "expire")
    assert code == 0 and "consent_ledger:" in out and "geolocation" not in out
    code, out, _ = run(capsys, monkeypatch, "expire")
    assert code == 0 and "nothing to do" in out


def test_audit_shows_verifies_and_detects_tampering(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "init")
    run(capsys, monkeypatch, "rotate", "-p", "geolocation")
    code, out, _ = run(capsys, monkeypatch, "audit")
    assert code == 0 and "rotate" in out and "sec-team" in out and "intact" in out
    code, out, _ = run(capsys, monkeypatch, "audit", "--verify")
    assert code == 0 and "intact: 3 entries" in out  # init, rotate, the first audit
    log = data_dir / "keys" / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0] + lines[2] + lines[1] + b"".join(lines[3:]))
    code, _, err = run(capsys, monkeypatch, "audit", "--verify")
    assert code == 1 and "does not follow" in err and "Traceback" not in err


def test_rewrap_to_a_new_master_file(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "init")
    token = _ring(data_dir).encrypt("geolocation", "coords", b"p", _now())
    master = data_dir / "keys" / "master.key"
    old = master.read_bytes()
    code, _out, err = run(capsys, monkeypatch, "rewrap")
    assert code == 0, err
    assert master.read_bytes() != old and master.stat().st_mode & 0o777 == 0o600
    assert _ring(data_dir).decrypt("geolocation", "coords", token) == b"p"
    old_kek = keys.LocalKek(base64.b64decode(old), "file")
    with pytest.raises(keys.KekMismatch):
        _ring(data_dir, kek=old_kek)


def test_rewrap_to_env_reads_the_new_key_from_stdin(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, monkeypatch, "init")
    token = _ring(data_dir).encrypt("geolocation", "coords", b"p", _now())
    new = base64.b64encode(os.urandom(32)).decode()
    code, out, err = run(capsys, monkeypatch, "rewrap", "--to", "env", stdin=new + "\n")
    assert code == 0, err
    assert new not in out and new not in err and "PRIVACY_PIPELINE_MASTER_KEY" in out
    monkeypatch.setenv("PRIVACY_PIPELINE_KEK", "env")
    monkeypatch.setenv("PRIVACY_PIPELINE_MASTER_KEY", new)
    code, out, err = run(capsys, monkeypatch, "list", "--json")
    assert code == 0, err
    config = Settings.from_env()
    assert keys.open_keyring(config, SPECS).decrypt("geolocation", "coords", token) == b"p"
    code, _, err = run(capsys, monkeypatch, "rewrap", "--to", "env", stdin="short\n")
    assert code == 1 and "openssl rand" in err and "short" not in err


def test_commands_without_a_keyring_fail_in_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (["list"], ["ensure"], ["audit"], ["decrypt", "-p", "geolocation", "-"]):
        code, _out, err = run(capsys, monkeypatch, *args)
        assert code == 1 and "keys init" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1


def test_destroy_retires_the_master_key_file_and_prints_no_key(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _records(data_dir, capsys, monkeypatch)
    master = data_dir / "keys" / "master.key"
    old = master.read_bytes()
    code, out, err = run(capsys, monkeypatch, "destroy", "-p", "fraud_prevention", "--before",
                         keys.epoch_of("month", _now()), "--yes")
    assert code == 0, err
    assert "moved to the new KEK" in out and "older copies of keyring.json open nothing" in out
    new = master.read_bytes()
    assert new != old and master.stat().st_mode & 0o777 == 0o600
    for secret in (old.strip().decode(), new.strip().decode()):
        assert secret not in out and secret not in err
    assert sorted(p.name for p in (data_dir / "keys").glob("master.key*")) == ["master.key"]


def _env_keyring(data_dir: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> str:
    """Records as in ``_records``, then the keyring moved to an env KEK; returns its key."""
    _records(data_dir, capsys, monkeypatch)
    current = base64.b64encode(os.urandom(32)).decode()
    assert run(capsys, monkeypatch, "rewrap", "--to", "env", stdin=current + "\n")[0] == 0
    monkeypatch.setenv("PRIVACY_PIPELINE_KEK", "env")
    monkeypatch.setenv("PRIVACY_PIPELINE_MASTER_KEY", current)
    return current


def test_env_destroy_refuses_without_a_new_key_and_destroys_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _env_keyring(data_dir, capsys, monkeypatch)
    before = (data_dir / "keys" / "keyring.json").read_bytes()
    month = keys.epoch_of("month", _now())
    code, _, err = run(capsys, monkeypatch, "destroy", "-p", "fraud_prevention", "--before",
                       month, "--yes", stdin="\n")
    assert code == 1 and "new master key on stdin" in err and "nothing was destroyed" in err
    assert "Traceback" not in err and err.count("privacy-pipeline: error") == 1
    assert (data_dir / "keys" / "keyring.json").read_bytes() == before
    code, _, err = run(capsys, monkeypatch, "destroy", "-p", "fraud_prevention", "--before",
                       month, "--yes", stdin="not-a-key\n")
    assert code == 1 and "32 random bytes" in err and "not-a-key" not in err


def test_env_destroy_with_a_new_key_then_an_old_copy_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    current = _env_keyring(data_dir, capsys, monkeypatch)
    path = data_dir / "keys" / "keyring.json"
    copy = path.read_bytes()
    new = base64.b64encode(os.urandom(32)).decode()
    code, out, err = run(capsys, monkeypatch, "destroy", "-p", "fraud_prevention", "--before",
                         keys.epoch_of("month", _now()), "--yes", stdin=new + "\n")
    assert code == 0, err
    assert "set PRIVACY_PIPELINE_MASTER_KEY to the new key" in out
    assert new not in out + err and current not in out + err
    path.write_bytes(copy)  # restored from a backup, with the operator's old key still set
    code, _, err = run(capsys, monkeypatch, "list")
    assert code == 1 and "restored from a copy older than that destroy" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("PRIVACY_PIPELINE_MASTER_KEY", new)  # the key in service now
    code, _, err = run(capsys, monkeypatch, "list")
    assert code == 1 and "is wrapped by KEK" in err
