"""``privacy-pipeline bench --concurrent`` on the test broker: every process at once, verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.settings import Settings


@pytest.mark.timeout(400)
def test_concurrent_bench_reports_rate_lag_and_cpu_and_equals_the_truth(
    settings: Settings, tmp_path: Path,
) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PRIVACY_PIPELINE_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "PRIVACY_PIPELINE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "160"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bench", "--concurrent", "--events", "4000",
         "--users", "300", "--workers", "1", "--probes", "3", "--store", "memory://",
         "--markdown", str(tmp_path / "bench.md"), "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=380, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    run = result["concurrent"]
    assert result["verified"] is True and run["events"] == 4003  # 3 probes' grants
    assert 0 < run["produce_s"] <= run["decided_s"] <= run["sunk_s"]
    assert run["lag_max"] >= run["lag_at_produce_end"] >= 0
    assert min(run["cpu_producer_s"], run["cpu_workers_s"], run["cpu_sink_s"]) > 0
    assert result["ceiling"]["events"] >= 4000 and result["latency"]["measured"] == 3
    assert "sustained" in done.stdout and "every process" in done.stdout
