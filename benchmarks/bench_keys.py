"""Benchmark of the keys hot paths: µs per field encryption, pseudonym and decryption.

Targets (reported, not asserted): field encryption < 5 µs, pseudonym < 3 µs. The baselines
are the bare ``cryptography`` calls (AES-GCM encrypt, HMAC-SHA256) on the same machine.

Run: ``.venv/bin/python -m benchmarks.bench_keys [--n 200000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import keys
from pipeline.settings import Settings

SPECS = [
    keys.PurposeSpec("geolocation", "month", 395),
    keys.PurposeSpec("advertising", "month", 395),
]


def _per_call_us(func: Callable[[], object], n: int, repeat: int) -> tuple[float, float]:
    """Best and median µs per call over ``repeat`` runs of ``n`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            func()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return min(runs), statistics.median(runs)


def main() -> None:
    """Print one line per measured operation."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    at = datetime.now(UTC)
    plain = b"48.8566,2.3522"
    with tempfile.TemporaryDirectory() as data_dir:
        config = Settings.from_env({"PRIVACY_PIPELINE_DATA_DIR": data_dir})
        ring, _ = keys.init_keyring(config, SPECS)
        token = ring.encrypt("geolocation", "coords", plain, at)  # reserves the first lease
        aead, nonce, aad = AESGCM(os.urandom(32)), os.urandom(12), b"x" * 48
        mac = hmac.HMAC(os.urandom(32), hashes.SHA256())

        def bare_hmac() -> bytes:
            h = mac.copy()
            h.update(b"contract-0012345678")
            return h.finalize()

        cases: list[tuple[str, Callable[[], object], str]] = [
            ("keyring.encrypt (field)", lambda: ring.encrypt("geolocation", "coords", plain, at),
             "target < 5 µs"),
            ("keyring.pseudonym", lambda: ring.pseudonym("advertising", "contract-0012345678", at),
             "target < 3 µs"),
            ("keyring.decrypt (field)", lambda: ring.decrypt("geolocation", "coords", token), ""),
            ("baseline AESGCM.encrypt", lambda: aead.encrypt(nonce, plain, aad), ""),
            ("baseline HMAC-SHA256 (copy)", bare_hmac, ""),
        ]
        print(f"n={args.n} x {args.repeat} runs, cryptography keys cached per key id")
        for name, func, note in cases:
            best, median = _per_call_us(func, args.n, args.repeat)
            print(f"{name:30s} best {best:6.2f} µs   median {median:6.2f} µs   {note}")


if __name__ == "__main__":
    main()
