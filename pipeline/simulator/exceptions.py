"""Errors of the traffic simulator."""

from __future__ import annotations

from pipeline.errors import PipelineError


class SimulatorError(PipelineError):
    """The simulation cannot run with these arguments; the message says what to change."""


class ProduceError(SimulatorError):
    """Kafka did not acknowledge simulated messages; the message says what to check."""
