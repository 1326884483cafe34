"""Errors are typed under one base, and never carry key material, tokens or plaintext."""

from __future__ import annotations

import base64
import inspect
from collections.abc import Callable
from datetime import timedelta

import pytest
from keys_support import NOW

import keys
from keys import exceptions
from keys.ops import key_context
from pipeline.errors import PipelineError

PLAIN = b"48.8566,2.3522-secret-point"


def test_every_error_is_a_keys_error_and_a_pipeline_error() -> None:
    classes = [c for _, c in inspect.getmembers(exceptions, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == exceptions.__name__]
    assert len(classes) >= 15
    for cls in classes:
        assert issubclass(cls, keys.KeysError) and issubclass(cls, PipelineError)
    assert not issubclass(keys.KeyDestroyed, keys.InvalidToken)
    assert issubclass(keys.KeyDestroyed, keys.TokenError)


def test_messages_carry_no_secret(ring: keys.Keyring) -> None:
    token = ring.encrypt("geolocation", "coords", PLAIN, NOW)
    secrets = [token, PLAIN.decode(), "contract-42", base64.b64encode(PLAIN).decode()]
    failures: list[Exception] = []
    attempts: list[Callable[[], object]] = [
        lambda: ring.decrypt("fraud_prevention", "coords", token),
        lambda: ring.decrypt("geolocation", "other", token),
        lambda: ring.decrypt("geolocation", "coords", token[:-2]),
        lambda: ring.decrypt("geolocation", "coords", token + "A"),
        lambda: ring.encrypt("geolocation", "coords", PLAIN, NOW + timedelta(days=200)),
        lambda: ring.pseudonym("advertising", "contract-42", NOW),
        lambda: ring.pseudonym("geolocation", "contract-42", NOW.replace(tzinfo=None)),
    ]
    for attempt in attempts:
        with pytest.raises(keys.KeysError) as caught:
            attempt()
        failures.append(caught.value)
    for error in failures:
        for secret in secrets:
            assert secret not in str(error)
    # Token failures are one opaque kind; the others name what is missing.
    assert all(isinstance(e, keys.InvalidToken) for e in failures[:4])
    assert isinstance(failures[4], keys.NoKeyForEpoch) and "keys ensure" in str(failures[4])
    assert isinstance(failures[6], keys.InvalidEpoch)


def test_wrapped_key_failure_does_not_echo_material(ring: keys.Keyring) -> None:
    wrapped = ring.kek.wrap(b"k" * 32, key_context("enc", "geolocation", "2026-11", "00"))
    with pytest.raises(keys.KekError) as caught:
        ring.kek.unwrap(wrapped, b"other")
    assert base64.b64encode(wrapped).decode() not in str(caught.value)
    assert "k" * 32 not in str(caught.value)
