"""Throughput of the contract v1 validator (``schemas.validator``), single thread.

Run: ``.venv/bin/python -m benchmarks.bench_validator [--events N] [--rounds R]``.
Prints events/s for a realistic valid mix (60 % navigation, 25 % geolocation, 10 % consent,
5 % rights), for an invalid mix (one kind of error per rule), and for ``decode_obj`` and
``encode``. Best of R rounds, so a busy shared machine disturbs the figures less.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from schemas.exceptions import InvalidEvent
from schemas.validator import decode, decode_obj, encode

SCREENS = ["home", "contracts", "claims/new", "claims/status", "profile", "documents", "help"]
PURPOSES = ["audience_measurement", "geolocation", "personalisation", "advertising"]


def _common(rng: random.Random, i: int, schema: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "schema": schema,
        "event_id": f"ev-{i:012d}",
        "user_id": f"C-{rng.randrange(10**8):08d}",
        "occurred_at": f"2026-11-26T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
        f"{rng.randrange(60):02d}.{rng.randrange(10**6):06d}+01:00",
        "device_id": f"dev-{rng.getrandbits(64):016x}",
        "session_id": f"s-{rng.getrandbits(32):08x}",
        "ip": f"203.0.113.{rng.randrange(256)}",
    }
    if schema in ("navigation/1", "geolocation/1") or rng.random() < 0.5:
        event["app"] = {
            "name": "mm-app",
            "platform": rng.choice(["ios", "android", "web"]),
            "version": "4.2.1",
        }
    return event


def valid_event(rng: random.Random, i: int) -> dict[str, Any]:
    """One event of the realistic mix."""
    roll = rng.random()
    if roll < 0.60:
        return {
            **_common(rng, i, "navigation/1"),
            "type": "screen_view",
            "screen": rng.choice(SCREENS),
            "campaign": "spring-2026",
        }
    if roll < 0.85:
        return {
            **_common(rng, i, "geolocation/1"),
            "lat": rng.uniform(41, 51),
            "lon": rng.uniform(-5, 9),
            "accuracy_m": rng.uniform(3, 80),
        }
    if roll < 0.95:
        purposes = {p: rng.random() < 0.5 for p in rng.sample(PURPOSES, 3)}
        return {**_common(rng, i, "consent/1"), "purposes": purposes, "source": "banner"}
    return {**_common(rng, i, "rights/1"), "right": "objection", "purposes": ["fraud_prevention"]}


def invalid_payload(rng: random.Random, i: int) -> bytes:
    """One payload breaking one rule (wrong type, range, field, timestamp, JSON, size...)."""
    event = valid_event(rng, i)
    kind = i % 8
    if kind == 0:
        event["user_id"] = 12345
    elif kind == 1:
        event.update(schema="geolocation/1", lat=91.5, lon=2.0)
    elif kind == 2:
        event["unexpected"] = True
    elif kind == 3:
        event["occurred_at"] = "2026-11-26T10:15:00"
    elif kind == 4:
        event["schema"] = "navigation/9"
    elif kind == 5:
        return json.dumps(event).encode()[:-3]
    elif kind == 6:
        return b"\xff" + json.dumps(event).encode()
    else:
        return json.dumps(event).encode() + b" " * 70_000
    return json.dumps(event).encode()


def _best_rate(run: Callable[[], int], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def _decode_all(payloads: Sequence[bytes]) -> int:
    rejected = 0
    for raw in payloads:
        try:
            decode(raw)
        except InvalidEvent:
            rejected += 1
    return rejected


def main() -> None:
    """Build the inputs, time each operation, print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(20261126)  # noqa: S311 - benchmark data, not security
    objs = [valid_event(rng, i) for i in range(args.events)]
    valid = [json.dumps(o).encode() for o in objs]
    invalid = [invalid_payload(rng, i) for i in range(args.events)]
    events = [decode(raw) for raw in valid]
    if _decode_all(invalid) != len(invalid):
        raise SystemExit("bench: an invalid payload was accepted; the benchmark input is wrong")
    size = sum(map(len, valid)) / len(valid)
    figures = {
        f"decode, valid mix (avg {size:.0f} B)": _best_rate(
            lambda: _decode_all(valid), len(valid), args.rounds
        ),
        "decode, invalid mix": _best_rate(lambda: _decode_all(invalid), len(invalid), args.rounds),
        "decode_obj, valid mix": _best_rate(
            lambda: len([decode_obj(o) for o in objs]), len(objs), args.rounds
        ),
        "encode, valid mix": _best_rate(
            lambda: len([encode(e) for e in events]), len(events), args.rounds
        ),
    }
    print(f"{args.events} events per run, best of {args.rounds} rounds, one thread")
    for name, rate in figures.items():
        print(f"{name:<34} {rate:>12,.0f} events/s  {1e6 / rate:6.2f} µs/event")


if __name__ == "__main__":
    main()
