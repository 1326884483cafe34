"""The one base error of privacy-pipeline and the small errors shared across packages.

Packages add their own subclasses next to their code (``keys.exceptions``,
``schemas.exceptions``...). Every message says what to do next; none carries a user id,
device id, ip, coordinate, key or plaintext.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose.

    The command line turns any ``PipelineError`` into one line on stderr and exit code 1.
    """


class ConfigError(PipelineError):
    """A setting or the policy file is wrong; the message names the setting."""


class UsageError(PipelineError):
    """A command was called with arguments that cannot work; the message says why."""


class BrokerUnavailable(PipelineError):
    """The Kafka broker did not answer within the bounded wait."""


class ToolMissing(PipelineError):
    """An external tool (java, mvn) needed by a command is not installed."""


class ExportError(PipelineError):
    """A rights export could not read the worker's state completely; nothing is written."""
