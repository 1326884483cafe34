"""API keys: fresh keys, hash-only configuration, constant-time lookup, header parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.collector.auth import (
    DEFAULT_SCOPES,
    KeyStore,
    check_app_name,
    format_entry,
    hash_key,
    new_key,
    parse_entries,
    parse_scopes,
    presented_key,
)
from pipeline.collector.exceptions import KeyConfigError
from pipeline.settings import Settings


def test_new_keys_are_prefixed_long_and_distinct() -> None:
    keys = {new_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert key.startswith("ppk_")
        assert len(key) >= 4 + 43  # 32 random bytes in URL-safe base64


def test_hash_is_sha256_hex_of_the_key() -> None:
    assert hash_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_store_maps_a_key_to_its_app_and_refuses_others() -> None:
    k1, k2, k3 = new_key(), new_key(), new_key()
    store = KeyStore([("web", hash_key(k1)), ("ios", hash_key(k2)), ("ios", hash_key(k3))])
    web, ios_a, ios_b = store.authenticate(k1), store.authenticate(k2), store.authenticate(k3)
    assert web is not None and web.app == "web"
    assert ios_a is not None and ios_a.app == "ios"
    assert ios_b is not None and ios_b.app == "ios"
    assert ios_a.key_id != ios_b.key_id  # two keys of one app are rate limited separately
    assert store.authenticate(new_key()) is None
    assert store.authenticate("") is None
    assert store.authenticate(None) is None
    assert store.authenticate(hash_key(k1)) is None  # the stored hash is not a key


def test_entries_from_variable_and_file(tmp_path: Path) -> None:
    k1, k2 = new_key(), new_key()
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# collector keys\n\nandroid:{hash_key(k2)}  # rotated 2026-11\n")
    settings = Settings.from_env(
        {
            "PRIVACY_PIPELINE_COLLECTOR_KEYS": f" web:{hash_key(k1).upper()} ,",
            "PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE": str(keys_file),
        }
    )
    store = KeyStore.from_settings(settings)
    assert len(store) == 2
    found1, found2 = store.authenticate(k1), store.authenticate(k2)
    assert found1 is not None and found1.app == "web"
    assert found2 is not None and found2.app == "android"


def test_a_plain_key_in_the_configuration_is_refused_without_echoing_it() -> None:
    key = new_key()
    with pytest.raises(KeyConfigError) as err:
        parse_entries(f"web:{key}", "PRIVACY_PIPELINE_COLLECTOR_KEYS")
    assert key not in str(err.value)
    assert "new-key" in str(err.value)
    with pytest.raises(KeyConfigError):
        parse_entries(hash_key(key), "PRIVACY_PIPELINE_COLLECTOR_KEYS")  # no app name


def test_unreadable_keys_file_names_the_variable(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE": str(tmp_path / "missing")}
    )
    with pytest.raises(KeyConfigError, match="PRIVACY_PIPELINE_COLLECTOR_KEYS_FILE"):
        KeyStore.from_settings(settings)


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "-lead", "é"])
def test_bad_app_names(name: str) -> None:
    with pytest.raises(KeyConfigError):
        check_app_name(name)


def test_presented_key_from_bearer_or_x_api_key() -> None:
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "bearer  abc "}) == "abc"
    assert presented_key({"x-api-key": "xyz"}) == "xyz"
    assert presented_key({"authorization": "Bearer abc", "x-api-key": "xyz"}) == "abc"
    assert presented_key({"authorization": "Basic abc"}) is None
    assert presented_key({"authorization": "Bearer "}) is None
    assert presented_key({}) is None


def test_entries_carry_scopes_and_old_entries_keep_events_and_consent() -> None:
    k1, k2, k3 = new_key(), new_key(), new_key()
    text = (f"web:{hash_key(k1)}\n"
            f"dpo:{hash_key(k2)}:rights\n"
            f"app:{hash_key(k3)}:events+consent+rights")
    store = KeyStore(parse_entries(text, "test"))
    web, dpo, full = store.authenticate(k1), store.authenticate(k2), store.authenticate(k3)
    assert web is not None and web.scopes == DEFAULT_SCOPES == {"events", "consent"}
    assert dpo is not None and dpo.scopes == {"rights"}
    assert full is not None and full.scopes == {"events", "consent", "rights"}


@pytest.mark.parametrize("scopes", ["", "admin", "events+admin", "events,consent"])
def test_unknown_scopes_are_a_config_error(scopes: str) -> None:
    with pytest.raises(KeyConfigError, match="scopes"):
        parse_entries(f"web:{hash_key(new_key())}:{scopes}", "test")


def test_entries_round_trip_through_the_documented_format() -> None:
    digest = hash_key(new_key())
    entry = format_entry("web", digest, parse_scopes("rights,events", sep=","))
    assert entry == f"web:{digest}:events+rights"
    assert parse_entries(entry, "test") == [("web", digest, frozenset({"events", "rights"}))]
