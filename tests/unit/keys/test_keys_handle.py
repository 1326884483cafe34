"""The subject-handle key: one keyed, stable handle per user, kept through a KEK rewrap."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import pytest
from keys_support import NOW, SPECS, FakeClock

import keys
from keys import ops
from keys.exceptions import NoKeyForEpoch
from keys.state import KeyState
from pipeline.settings import Settings


def test_handle_is_keyed_stable_and_unrelated_to_pseudonyms(
    ring: keys.Keyring, reopen: Callable[..., keys.Keyring], clock: FakeClock,
) -> None:
    handle = ring.subject_handle("user-1")
    assert re.fullmatch(r"[0-9a-f]{32}", handle)
    assert ring.subject_handle("user-2") != handle
    clock.advance(days=400)  # past every epoch: the handle does not rotate
    assert reopen().subject_handle("user-1") == handle
    pseudonyms = {ring.pseudonym(s.name, "user-1", NOW) for s in SPECS}
    assert handle not in pseudonyms


def test_a_rewrap_keeps_the_handle(config: Settings, clock: FakeClock) -> None:
    ring, _ = keys.init_keyring(config, SPECS, clock=clock, kek=keys.LocalKek(os.urandom(32), "e"))
    before = ring.subject_handle("user-1")
    ring.rewrap(keys.LocalKek(os.urandom(32), "e"))
    assert ring.subject_handle("user-1") == before


def test_ensure_adds_the_handle_key_once_to_a_keyring_without_one() -> None:
    kek = keys.LocalKek(os.urandom(32), "e")
    body = ops.new_body(kek, os.urandom(32), NOW, 1000)
    assert KeyState(body, kek).handle is None  # a keyring made before handles existed
    assert ops.ensure_epochs(body, kek, SPECS, NOW)[0] == "subject-handle:-"
    first = body.handle_key
    assert first is not None and KeyState(body, kek).handle is not None
    assert "subject-handle:-" not in ops.ensure_epochs(body, kek, SPECS, NOW)
    assert body.handle_key is first


def test_no_handle_key_fails_closed(ring: keys.Keyring) -> None:
    assert ring._state is not None
    ring._state.handle = None
    with pytest.raises(NoKeyForEpoch, match="keys ensure"):
        ring.subject_handle("user-1")
