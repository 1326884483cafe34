"""Record building alone: CPU µs per sanitized record, and per record encoded for Kafka.

    .venv/bin/python -m benchmarks.bench_records [--users 2000 --records 40000 --batch 1000]

Simulated traffic (fixed seed) is decoded once; then every (event, purpose) record the
policy's streams allow is built with :func:`processors.records.sanitize` as the engine calls it
(real keyring, one :class:`~processors.records.Recall` cleared every ``--batch`` events, field
encryption under the purpose keys), and the records are encoded in ``{"records": [...]}``
groups as the outbox sends them. Best of three runs (``time.process_time``).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import keys
from pipeline.policy import Policy, load_policy
from pipeline.settings import Settings
from processors.outbox import encode_groups
from processors.records import Recall, sanitize, shared_of
from schemas.events import Geolocation, Navigation
from schemas.exceptions import InvalidEvent
from schemas.records import Sanitized
from schemas.validator import decode_message
from tests.support.enginefeed import NOW, simulated


def _events(users: int, records: int) -> list[Navigation | Geolocation]:
    out: list[Navigation | Geolocation] = []
    for m, _ in simulated(users, records, 7):
        try:
            items = decode_message(m.value or b"", m.key)
        except InvalidEvent:
            continue
        out += [i.result for i in items if isinstance(i.result, Navigation | Geolocation)]
    return out


def _build(events: list[Navigation | Geolocation], policy: Policy, ring: keys.Keyring,
           batch: int) -> list[Sanitized]:
    by_stream = {s: [p for p in policy.purposes.values() if p.applies_to(s)]
                 for s in ("navigation", "geolocation")}
    recall = Recall(ring)
    out: list[Sanitized] = []
    for i, event in enumerate(events):
        if i % batch == 0:
            recall.clear()
        shared = shared_of(event, policy)
        for purpose in by_stream[shared.stream]:
            out.append(sanitize(event, purpose, policy, ring, False, shared, None, recall))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--records", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    events, policy = _events(args.users, args.records), load_policy(None)
    with tempfile.TemporaryDirectory(prefix="bench-records-") as data:
        settings = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": data})
        ring, _ = keys.init_keyring(settings, policy.key_specs(), clock=lambda: NOW)
        build = encode = float("inf")
        for _ in range(3):
            began = time.process_time()
            records = _build(events, policy, ring, args.batch)
            built = time.process_time()
            sum(len(v) for v in encode_groups(records, 2000, 900 * 1024))
            build = min(build, built - began)
            encode = min(encode, time.process_time() - built)
    n = len(records)
    print(f"records: {n:,} from {len(events):,} events; sanitize {build / n * 1e6:.2f} µs, "
          f"encode {encode / n * 1e6:.2f} µs per record")


if __name__ == "__main__":
    main()
