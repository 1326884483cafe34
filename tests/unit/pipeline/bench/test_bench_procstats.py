"""Child-process accounting: CPU and peak memory from wait4, live memory from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from pipeline.bench.exceptions import StageTimeout
from pipeline.bench.procstats import Sampler, memory, reap, stop, thread_cpu_s

_ALLOCATE = "x = bytearray(60 * 1024 * 1024); sum(range(3_000_000))"


def _child(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_reap_reports_the_childs_cpu_and_status_and_the_sampler_its_peak() -> None:
    child = _child(_ALLOCATE + "; import time; time.sleep(0.6); raise SystemExit(3)")
    sampler = Sampler(child.pid, interval=0.05)
    usage = reap(child, timeout=30)
    sampler.stop()
    assert usage.returncode == 3 and usage.cpu_s > 0
    assert 60 < sampler.peak_mb < 200 and sampler.samples


def test_a_child_still_running_is_a_stage_timeout_then_stop_ends_it() -> None:
    child = _child("import time; time.sleep(60)")
    with pytest.raises(StageTimeout):
        reap(child, timeout=0.2)
    usage = stop(child, timeout=10)
    assert usage.returncode == -15 and child.returncode == -15


def test_memory_of_this_process_and_of_no_process() -> None:
    mine = memory(os.getpid())
    assert mine is not None and 0 < mine.rss_mb <= mine.peak_mb
    assert memory(2**22 + 12345) is None


def test_thread_cpu_counts_one_thread_only() -> None:
    done = threading.Event()
    busy = threading.Thread(target=lambda: (sum(range(5_000_000)), done.wait(5)))
    idle = threading.Thread(target=done.wait, args=(5,))
    busy.start()
    idle.start()
    try:
        deadline = time.monotonic() + 10
        while thread_cpu_s(busy.native_id or 0) < 0.05 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert thread_cpu_s(busy.native_id or 0) >= 0.05
        assert thread_cpu_s(idle.native_id or 0) < 0.02
    finally:
        done.set()
        busy.join()
        idle.join()
    assert thread_cpu_s(0) == 0.0  # no such thread (gone)
