"""Cost of subject keys (crypto-shredding): µs per field encryption, three ways.

- ``purpose key``: today's ``ring.encrypt`` (the purpose key of the epoch; no shredding);
- ``subject key, hot``: the user's key already unwrapped in the worker's LRU (their second
  and later fields: the common case);
- ``subject key, first use``: a user never seen (a new data key, wrapped by the purpose key,
  the record written to the table), and a user whose key is in the table but not in memory
  (after a restart or an eviction: one unwrap).

The table is the in-memory one (a faust/RocksDB write adds its own cost, once per user,
purpose and epoch). Run: ``.venv/bin/python benchmarks/bench_subject_keys.py [--n 100000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

import keys
from pipeline.settings import Settings
from processors.subject import Subject
from processors.subjectkeys import SubjectKeys
from processors.table import MemoryTable

SPECS = [keys.PurposeSpec("geolocation", "month", 395)]
PLAIN = b"48.8566,2.3522"


def _best_median_us(func: Callable[[int], object], n: int, repeat: int) -> tuple[float, float]:
    runs = []
    for r in range(repeat):
        start = time.perf_counter()
        for i in range(n):
            func(r * n + i)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return min(runs), statistics.median(runs)


def main() -> None:
    """Print one line per measured path."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    at = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as data_dir:
        config = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": data_dir})
        ring, _ = keys.init_keyring(config, SPECS)
        ring.encrypt("geolocation", "coords", PLAIN, at)  # reserves the first lease
        table = MemoryTable()
        cipher = SubjectKeys(ring, table, cache_users=10 * args.n * args.repeat)
        subjects = [Subject(f"{i:032x}".encode(), 0) for i in range(args.n * args.repeat)]
        hot = subjects[0]
        cipher.encrypt(hot, "geolocation", "coords", PLAIN, at)

        def purpose_key(_: int) -> str:
            return ring.encrypt("geolocation", "coords", PLAIN, at)

        def subject_hot(_: int) -> str:
            return cipher.encrypt(hot, "geolocation", "coords", PLAIN, at)

        def subject_new(i: int) -> str:
            return cipher.encrypt(subjects[i], "geolocation", "coords", PLAIN, at)

        def subject_cold(i: int) -> str:
            return cipher.encrypt(subjects[i], "geolocation", "coords", PLAIN, at)

        paths: list[tuple[str, Callable[[int], object], int]] = [
            ("purpose key (today, no shredding)", purpose_key, args.n),
            ("subject key, hot (in the LRU)", subject_hot, args.n),
            ("subject key, first use (create + wrap + write)", subject_new, args.n // 10),
        ]
        for label, func, n in paths:
            best, median = _best_median_us(func, n, args.repeat)
            print(f"{label:52s} best {best:7.2f} µs  median {median:7.2f} µs")
        cipher.forget_cached()  # as after a restart: keys in the table, none in memory
        best, median = _best_median_us(subject_cold, args.n // 10, args.repeat)
        label = "subject key, in table not memory (unwrap)"
        print(f"{label:52s} best {best:7.2f} µs  median {median:7.2f} µs")


if __name__ == "__main__":
    main()
