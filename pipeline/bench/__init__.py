"""Evidence about the whole pipeline: the library of ``privacy-pipeline bench``, whose pieces
(ground-truth comparison, watching a run, reference ids) the fault and memory tests reuse.
Test-only generators live in ``tests/support`` and benchmark scripts in ``benchmarks/``.

``privacy-pipeline bench`` (:mod:`pipeline.bench.run`) measures produce → workers → sink →
published aggregates on the local broker against a raw consume-and-decode ceiling, with
consent-to-effect latency, peak memory and CPU per event, and checks the published aggregates
against the simulator's ground truth (:mod:`pipeline.bench.compare`).
"""

from __future__ import annotations
