"""Errors and interruptions of ``privacy-pipeline demo``."""

from __future__ import annotations

from pipeline.errors import PipelineError


class DemoError(PipelineError):
    """The demo could not finish; the message says which step and which log to read."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM reached the demo; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
