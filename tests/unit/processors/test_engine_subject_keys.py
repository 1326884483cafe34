"""The engine encrypts a user's fields and dead letters under their subject keys, and an
erasure shreds them (crypto-shredding, issue 12 item 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import keys
from keys import subjectkeys as sk
from pipeline.policy import LEDGER
from processors.messages import Msg
from processors.subjectkeys import SubjectKeys
from processors.table import MemoryTable
from tests.unit.processors.conftest import APP, Harness, at, build_harness

NAV, GEO, CON = "app.navigation.v1", "app.geolocation.v1", "privacy.consent.v1"
ALL = ("audience_measurement", "personalisation", "advertising", "fraud_prevention",
       "geolocation")


@pytest.fixture
def world(ring: keys.Keyring, policy: Any) -> tuple[Harness, MemoryTable]:
    table = MemoryTable()
    return build_harness(policy, ring=ring, subject_keys=SubjectKeys(ring, table)), table


def _decryptor(ring: keys.Keyring, table: MemoryTable) -> sk.SubjectDecryptor:
    """What `keys decrypt` does, over the table instead of the topic."""
    found = {kid: loc for key, raw in table.data.items()
             for kid, loc in sk.index(key.decode(), sk.decode_record(raw))}
    return sk.SubjectDecryptor(ring, found.get)


def _send(h: Harness, user: str) -> None:
    grant = {"schema": "consent/1", "event_id": f"c-{user}", "user_id": user,
             "occurred_at": at(-60), "source": "banner", "purposes": dict.fromkeys(ALL, True)}
    geo = {"schema": "geolocation/1", "event_id": f"g-{user}", "user_id": user,
           "occurred_at": at(-30), "app": APP, "lat": 48.85, "lon": 2.35,
           "device_id": f"dev-{user}", "ip": "10.1.2.3"}
    nav = {"schema": "navigation/1", "event_id": f"n-{user}", "user_id": user,
           "occurred_at": at(-29), "app": APP, "type": "screen_view", "screen": "home",
           "device_id": f"dev-{user}", "ip": "10.1.2.3"}
    h.run(h.produce(CON, grant), h.produce(GEO, geo), h.produce(NAV, nav))


def _tokens(h: Harness) -> list[tuple[str, str, str]]:
    """(purpose, field, token) of every encrypted field in every sanitized record."""
    out = []
    for purpose in ALL:
        for r in h.records(f"sanitized.{purpose}.v1"):
            out += [(purpose, f, t) for f, t in r["enc"].items()]
    return out


def test_erasure_shreds_the_users_fields_and_not_the_others(
    world: tuple[Harness, MemoryTable], ring: keys.Keyring
) -> None:
    h, table = world
    _send(h, "alice")
    alice_tokens = _tokens(h)
    _send(h, "bob")
    bob_tokens = [t for t in _tokens(h) if t not in alice_tokens]
    assert {p for p, _, _ in alice_tokens} == {"geolocation", "fraud_prevention"}
    assert all(sk.token_version(t) == 2 for _, _, t in alice_tokens + bob_tokens)
    alice, bob = h.subject("alice"), h.subject("bob")
    assert set(table.data) == {alice.handle, bob.handle}  # keyed by handle, never the raw id
    assert b"alice" not in b"".join(table.data.values())
    d = _decryptor(ring, table)
    for purpose, field, token in alice_tokens:
        assert d.decrypt(purpose, field, token) in (b"48.85,2.35", b"dev-alice", b"10.1.2.3")

    erase = {"schema": "rights/1", "event_id": "r1", "user_id": "alice",
             "occurred_at": at(-1), "right": "erasure"}
    h.run(h.produce(CON, erase))
    assert set(table.data) == {bob.handle}  # the record's delete: a Kafka tombstone
    d = _decryptor(ring, table)
    for purpose, field, token in alice_tokens:
        with pytest.raises(keys.KeyDestroyed):
            d.decrypt(purpose, field, token)
    for purpose, field, token in bob_tokens:
        assert d.decrypt(purpose, field, token) in (b"48.85,2.35", b"dev-bob", b"10.1.2.3")


def test_one_key_per_purpose_and_epoch_and_the_record_stays_bounded(
    world: tuple[Harness, MemoryTable]
) -> None:
    h, table = world
    for _ in range(3):
        _send(h, "carol")  # same events again: same keys, no new entry
    [raw] = table.data.values()
    assert sorted(json.loads(raw)) == ["fraud_prevention/2026-11", "geolocation/2026-11"]


def test_a_dead_letter_of_a_keyed_record_is_shredded_with_its_user(
    world: tuple[Harness, MemoryTable], ring: keys.Keyring
) -> None:
    h, table = world
    bad = Msg(NAV, 0, 0, b"dave", b'{"schema": "navigation/1", "user_id": "dave"}')
    anonymous = Msg(NAV, 0, 1, None, b'{"schema": "nope"}')
    no_user = Msg(NAV, 0, 2, b"x" * 600, b'{"schema": "nope"}')  # longer than any user id
    for m in (bad, anonymous, no_user):
        h.fence.append(m)
    h.run(bad, anonymous, no_user)
    keyed, unkeyed, too_long = h.records("pipeline.deadletter.v1")
    assert sk.token_version(keyed["original"]) == 2
    assert sk.token_version(unkeyed["original"]) == 1  # no user: the ledger key itself
    assert sk.token_version(too_long["original"]) == 1
    assert len(table.data) == 1  # no subject key made for a key that is no user id
    d = _decryptor(ring, table)
    assert d.decrypt(LEDGER, "deadletter", keyed["original"]) == bad.value
    h.engine.subject_keys.shred(h.subject("dave"))
    with pytest.raises(keys.KeyDestroyed):
        _decryptor(ring, table).decrypt(LEDGER, "deadletter", keyed["original"])
    assert ring.decrypt(LEDGER, "deadletter", unkeyed["original"]) == anonymous.value


def test_a_new_subject_key_is_durable_before_any_ciphertext_under_it_leaves(
    world: tuple[Harness, MemoryTable],
) -> None:
    h, _ = world
    sent_when_durable: list[int] = []

    async def durable() -> None:
        sent_when_durable.append(len(h.sent))

    h.engine.durable = durable
    _send(h, "u1")
    assert sent_when_durable == [0] and _tokens(h)  # keys made: durable first, then outputs
    geo = {"schema": "geolocation/1", "event_id": "g2", "user_id": "u1", "occurred_at": at(-20),
           "app": APP, "lat": 48.85, "lon": 2.35, "device_id": "dev-u1", "ip": "10.1.2.3"}
    h.run(h.produce(GEO, geo))
    assert sent_when_durable == [0]  # the keys existed: no extra wait
