"""Generated traffic: deterministic, realistic, valid, and ordered so the truth is exact."""

from __future__ import annotations

import ipaddress
import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simkit import POLICY

from pipeline.simulator import model
from pipeline.simulator.run import ground_truth
from pipeline.simulator.traffic import Message, SimulationConfig, Traffic, generate
from schemas.exceptions import InvalidEvent
from schemas.validator import decode

START = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)  # spans the switch to summer time
CONFIG = SimulationConfig(users=800, events=20_000, seed=42, start=START, hours=12)
DOC_NETS = [ipaddress.ip_network(n) for n in
            ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]  # fmt: skip


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate(CONFIG)


@pytest.fixture(scope="module")
def events(traffic: Traffic) -> list[tuple[Message, dict[str, Any], datetime]]:
    out = []
    for m in traffic.messages:
        if m.malformed is None:
            event = json.loads(m.value)
            out.append((m, event, datetime.fromisoformat(event["occurred_at"])))
    return out


def test_same_seed_and_start_give_identical_bytes(traffic: Traffic) -> None:
    again = generate(CONFIG)
    assert again.messages == traffic.messages
    assert again.identifiers == traffic.identifiers


def test_other_seed_or_start_give_other_traffic() -> None:
    base = generate(SimulationConfig(60, 1_000, 42, START, 3))
    other_seed = generate(SimulationConfig(60, 1_000, 43, START, 3))
    assert [m.value for m in other_seed.messages] != [m.value for m in base.messages]
    later = generate(SimulationConfig(60, 1_000, 42, START + timedelta(hours=1), 3))
    assert [m.value for m in later.messages] != [m.value for m in base.messages]


def test_exact_counts_and_malformed_share(traffic: Traffic) -> None:
    assert len(traffic.messages) == 20_000
    assert sum(m.malformed is not None for m in traffic.messages) == 200  # 1 %
    kinds = {m.malformed for m in traffic.messages if m.malformed}
    assert kinds == {"not_json", "wrong_type", "missing_field", "unknown_schema", "oversize",
                     "bad_timestamp", "invalid_utf8", "bad_enum", "out_of_range"}  # fmt: skip


def test_valid_messages_pass_the_validator_and_malformed_ones_fail(traffic: Traffic) -> None:
    for m in traffic.messages:
        if m.malformed is None:
            assert decode(m.value).schema in m.value.decode()
        else:
            with pytest.raises(InvalidEvent):
                decode(m.value)


@pytest.mark.parametrize("events_n, users_n", [(1, 1), (30, 100), (500, 1), (2_000, 50)])
def test_any_size_gives_exactly_the_requested_count(events_n: int, users_n: int) -> None:
    small = generate(SimulationConfig(users_n, events_n, 7, START, 3))
    assert len(small.messages) == events_n
    for m in small.messages:
        if m.malformed is None:
            decode(m.value)


def test_every_screen_appears_and_query_strings_carry_identifiers(events: list[Any]) -> None:
    screens = {e["screen"].split("?")[0] for _, e, _ in events if "screen" in e}
    expected = {name.split("?")[0] for name in model.SCREENS} | {model.PRIVACY_SCREEN}
    assert expected <= screens
    with_query = [e["screen"] for _, e, _ in events if "?" in e.get("screen", "")]
    assert with_query and all("=" in s for s in with_query)
    types = {e["type"] for _, e, _ in events if "type" in e}
    assert types == {"screen_view", "page_view", "action"}


def test_keys_are_user_ids_and_event_ids_are_unique(traffic: Traffic, events: list[Any]) -> None:
    assert all(m.key == e["user_id"].encode() for m, e, _ in events)
    assert all(m.key.startswith(b"MM") for m in traffic.messages)
    ids = [e["event_id"] for _, e, _ in events]
    assert len(ids) == len(set(ids))


def test_times_stay_in_the_span_and_use_local_offsets(events: list[Any]) -> None:
    end = CONFIG.span.end
    assert all(START <= at <= end for _, _, at in events)
    suffixes = {e["occurred_at"][-6:] for _, e, _ in events}
    assert {"+01:00", "+02:00"} <= suffixes  # mobile local time across the DST switch
    assert any(e["occurred_at"].endswith("Z") for _, e, _ in events)
    for m, _, at in events:
        assert m.timestamp_ms == int(at.timestamp() * 1000)


def test_ips_are_documentation_addresses_only(events: list[Any]) -> None:
    ips = {e["ip"] for _, e, _ in events if "ip" in e}
    assert ips
    for ip in ips:
        assert any(ipaddress.ip_address(ip) in net for net in DOC_NETS), ip


def test_pings_cluster_around_french_cities(events: list[Any]) -> None:
    pings = [(e["lat"], e["lon"]) for _, e, _ in events if e["schema"] == "geolocation/1"]
    assert len(pings) > 100
    near = {name for lat, lon in pings for name, clat, clon, _ in model.CITIES
            if math.hypot(lat - clat, lon - clon) < 0.3}  # fmt: skip
    assert len(near) >= 5
    assert all(any(math.hypot(la - c[1], lo - c[2]) < 0.3 for c in model.CITIES)
               for la, lo in pings)  # fmt: skip


def test_consent_answers_look_real(events: list[Any]) -> None:
    answers = [e for _, e, _ in events if e["schema"] == "consent/1"]
    explicit = [e["purposes"] for e in answers if e["source"] == "banner" and "tcf" not in e
                and "audience_measurement" in e["purposes"]]  # fmt: skip
    rate = {p: sum(a[p] for a in explicit) / len(explicit) for p in model.ACCEPT_RATES}
    assert rate["advertising"] < rate["personalisation"] < rate["audience_measurement"]
    assert 0.6 < rate["audience_measurement"] < 0.8 and 0.2 < rate["advertising"] < 0.4
    assert any("tcf" in e for e in answers) and any(e.get("gpc") for e in answers)
    assert any(model.UNKNOWN_PURPOSE in e["purposes"] for e in answers)
    assert any(e["source"] == "app_settings" and False in e["purposes"].values() for e in answers)
    rights = {e["right"] for _, e, _ in events if e["schema"] == "rights/1"}
    assert rights == {"access", "portability", "rectification", "objection", "erasure"}


def test_first_answers_follow_the_first_view_within_seconds(events: list[Any]) -> None:
    first_view: dict[str, datetime] = {}
    first_answer: dict[str, datetime] = {}
    for _, e, at in sorted(events, key=lambda x: x[2]):
        target = first_view if e["schema"] == "navigation/1" else first_answer
        if e["schema"] in ("navigation/1", "consent/1"):
            target.setdefault(e["user_id"], at)
    delays = [(first_answer[u] - v).total_seconds() for u, v in first_view.items()
              if u in first_answer]  # fmt: skip
    quick = sum(1.0 <= d <= 20.0 for d in delays) / len(delays)
    assert quick > 0.8
    assert any(d > 30 for d in delays)  # some answer after the grace window


def test_consent_is_acknowledged_before_the_events_it_governs(events: list[Any]) -> None:
    """Each record at or before t + 30 s is in an earlier batch than an event at t."""
    records: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for m, e, at in events:
        if m.topic == model.CONSENT:
            records[e["user_id"]].append((at, m.batch))
            assert m.batch % 2 == 0
        else:
            assert m.batch % 2 == 1
    for m, e, at in events:
        if m.topic != model.CONSENT:
            for when, batch in records.get(e["user_id"], []):
                if when <= at + timedelta(seconds=30):
                    assert batch < m.batch


def test_batches_are_produced_in_order(traffic: Traffic) -> None:
    batches = [m.batch for m in traffic.messages]
    assert batches == sorted(batches)
    sizes = [len(b) for b in traffic.batches()]
    assert sum(sizes) == len(traffic.messages) and max(sizes) <= CONFIG.chunk_size


def test_erasure_is_the_users_last_activity_and_sent_after_it(traffic: Traffic) -> None:
    by_user: dict[bytes, list[Message]] = defaultdict(list)
    for m in traffic.messages:
        by_user[m.key].append(m)
    erased = 0
    for msgs in by_user.values():
        erasures = [m for m in msgs if b'"right":"erasure"' in m.value]
        if not erasures:
            continue
        erased += 1
        [erasure] = erasures
        others = [m for m in msgs if m is not erasure]
        assert all(m.timestamp_ms < erasure.timestamp_ms for m in others)
        assert all(m.batch < erasure.batch for m in others)
    assert erased >= 3


def test_truth_of_generated_traffic_exercises_every_path(traffic: Traffic) -> None:
    truth = ground_truth(traffic, POLICY, CONFIG.span.end + timedelta(minutes=1))
    outcomes = {o for counts in truth["decisions"].values() for o in counts}
    assert {"kept", "dropped_no_consent", "dropped_withdrawn", "dropped_objection"} <= outcomes
    assert "dropped_erased" not in outcomes and "dropped_late" not in outcomes
    assert sum(truth["sent"].values()) == 20_000
    assert sum(truth["malformed"].values()) == 200
    assert truth["unknown_purposes"] > 0
    assert all(truth["tables"][t] for t in truth["tables"])


def test_truth_is_deterministic() -> None:
    small = generate(SimulationConfig(60, 1_000, 42, START, 3))
    now = START + timedelta(hours=4)
    assert ground_truth(small, POLICY, now) == ground_truth(generate(small.config), POLICY, now)
