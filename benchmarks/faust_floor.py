"""faust's own cost per input record: an agent that only takes and acknowledges records.

Run by ``bench_worker.py`` on the same topics and settings as the worker (same transport,
fetch loop, monitor, raw schema, batch size), under its own consumer group; prints one JSON
line ``{"records": n, "seconds": s, "cpu": c}``: the records after the first batch, the time
from the first batch to the one reaching ``BENCH_FLOOR_EXPECTED`` records, and the CPU
seconds the process used meanwhile. Nothing is decided,
written or produced: no faust worker of this design can go faster on this machine.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from pipeline.settings import Settings
from pipeline.topics import TopicNames
from processors.worker.app import faust_app, run_worker
from processors.worker.topics import input_topic

settings = Settings.from_env()
app = faust_app(settings, TopicNames.from_settings(settings).prefix + "faust-floor")
inputs = input_topic(app, TopicNames.from_settings(settings))
EXPECTED = int(os.environ["BENCH_FLOOR_EXPECTED"])
_seen = {"records": 0, "first": 0.0, "first_batch": 0, "cpu": 0.0}


@app.agent(inputs)  # type: ignore[untyped-decorator]
async def floor(stream: Any) -> None:
    """Count records a batch at a time, as the worker's agent takes them."""
    async for events in stream.take_events(settings.worker_batch, within=0.1):
        if not _seen["records"]:  # the clock starts when the first batch is in
            _seen["first"], _seen["first_batch"] = time.monotonic(), len(events)
            _seen["cpu"] = time.process_time()
        _seen["records"] += len(events)
        if _seen["records"] >= EXPECTED:
            timed = _seen["records"] - _seen["first_batch"]
            elapsed = time.monotonic() - _seen["first"]
            cpu = time.process_time() - _seen["cpu"]  # every thread of the process
            print(json.dumps({"records": timed, "seconds": elapsed, "cpu": cpu}), flush=True)
            os._exit(0)


if __name__ == "__main__":
    run_worker(app, "warn")
