"""Evidence about the whole pipeline: the benchmark, and the helpers of the fault, fuzz and
memory tests.

``privacy-pipeline bench`` (:mod:`pipeline.bench.run`) measures produce → workers → sink →
published aggregates on the local broker against a raw consume-and-decode ceiling, with
consent-to-effect latency, peak memory and CPU per event, and checks the published aggregates
against the simulator's ground truth (:mod:`pipeline.bench.compare`).
"""

from __future__ import annotations
