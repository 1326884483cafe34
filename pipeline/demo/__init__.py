"""``privacy-pipeline demo``: the whole pipeline on one machine, from broker to report.

Broker (reused when one answers, else started and stopped again), topics, keys, W worker
processes and one sink process (each in its own process group, logs under
``<data_dir>/logs``), simulated traffic with its ground truth, a bounded wait until the
workers' group has no lag on the inputs and the sink's offsets stored in DuckDB reach the end
of its topics, then ``sink publish``. Whatever happens (error, Ctrl-C, SIGTERM), everything
the demo started is stopped, and nothing else.

Modules: :mod:`~pipeline.demo.run` (the steps), :mod:`~pipeline.demo.children` (child
processes and signals), :mod:`~pipeline.demo.positions` (workers' and sink's progress).
"""

from __future__ import annotations

from pipeline.demo.exceptions import DemoError, Interrupted
from pipeline.demo.run import DemoOptions, DemoResult, run_demo

__all__ = ["DemoError", "DemoOptions", "DemoResult", "Interrupted", "run_demo"]
