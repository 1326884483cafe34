"""Traffic simulator: realistic insurer-app events for Kafka, and their ground truth.

Usage::

    from pipeline.simulator import SimulationConfig, generate, ground_truth, produce
    traffic = generate(SimulationConfig(users=1000, events=10_000, seed=1, start=..., hours=5))
    truth = ground_truth(traffic, load_policy(), now)      # the oracle's expectations
    produce(traffic, make_producer(settings))              # batched, acknowledged in order
"""

from __future__ import annotations

from pipeline.simulator.exceptions import ProduceError, SimulatorError
from pipeline.simulator.producer import produce
from pipeline.simulator.run import ground_truth, write_messages, write_truth
from pipeline.simulator.traffic import Message, SimulationConfig, Traffic, generate
from pipeline.simulator.truth import compute_truth

__all__ = [
    "Message",
    "ProduceError",
    "SimulationConfig",
    "SimulatorError",
    "Traffic",
    "compute_truth",
    "generate",
    "ground_truth",
    "produce",
    "write_messages",
    "write_truth",
]
