"""Errors of the local broker commands (``privacy-pipeline broker …``).

Missing tools and a broker that never answers use the shared
:class:`~pipeline.errors.ToolMissing` and :class:`~pipeline.errors.BrokerUnavailable`.
"""

from __future__ import annotations

from pipeline.errors import ConfigError, PipelineError


class BrokerError(PipelineError):
    """Base of the local broker errors."""


class NotLocalAddress(ConfigError):
    """The bootstrap address does not point at this machine, so no local broker can serve it."""


class PortInUse(BrokerError):
    """The broker (or controller) port is held by a process this data dir did not start."""


class JarFetchFailed(BrokerError):
    """Maven could not fetch the Kafka server jars."""


class BrokerStartFailed(BrokerError):
    """The broker process exited while starting (storage format or server start)."""
