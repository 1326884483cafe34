"""The worker's resident memory with a large consent state in its RocksDB store.

``MEMORY_TEST_USERS`` users (50,000 by default, 200,000 in the slow variant) answer the
banner; one worker with the production store applies them, then sampled users browse and
must be decided from the state just stored. The bound of the issue (below 500 MB resident
with 1,000,000 users) is asserted here at the CI size, and measured at full size by
``privacy-pipeline bench memory --users 1000000`` (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.bench.memory import SAMPLE_USERS, MemoryResult, run_memory
from pipeline.bench.sandbox import Sandbox
from pipeline.settings import Settings

USERS = int(os.environ.get("MEMORY_TEST_USERS", "50000"))
BOUND_MB = 500.0


class Quiet:
    """A reporter that shows nothing (the bench's progress interface)."""

    def begin(self, name: str, total: int | None) -> None:
        pass

    def update(self, completed: int) -> None:
        pass

    def end(self, summary: str) -> None:
        pass


@pytest.fixture
def box(tmp_path: Path, settings: Settings) -> Iterator[Sandbox]:
    sandbox = Sandbox(settings, tmp_path / "data", store="rocksdb://")
    try:
        sandbox.setup()
        yield sandbox
    finally:
        sandbox.cleanup(keep_files=True)


def _check(result: MemoryResult, users: int) -> None:
    print(f"\n{users} users: RSS {result.rss_mb:.0f} MB, peak {result.peak_rss_mb:.0f} MB, "
          f"tables {result.disk_mb:.0f} MB, load {result.load_s:.0f} s")
    assert result.verified == min(SAMPLE_USERS, users), "state not served from the store"
    assert result.disk_mb > 0, "nothing in the RocksDB files: the state is not in the store"
    assert result.peak_rss_mb < BOUND_MB, result.samples[-20:]


@pytest.mark.timeout(600)
def test_worker_memory_with_the_consent_state_of_many_users(box: Sandbox) -> None:
    _check(run_memory(box, USERS, Quiet(), timeout=480), USERS)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_worker_memory_with_four_times_more_users(box: Sandbox) -> None:
    _check(run_memory(box, 4 * USERS, Quiet(), timeout=780), 4 * USERS)
