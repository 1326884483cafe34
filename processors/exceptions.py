"""Typed errors of the ``processors`` package."""

from __future__ import annotations

from pipeline.errors import PipelineError


class ProcessorsError(PipelineError):
    """Base of every error the ``processors`` package raises on purpose."""


class StateTooLarge(ProcessorsError):
    """A table value would exceed the bound under the broker's maximum message size.

    Raised before anything is written, so the table is unchanged; the engine dead-letters the
    input record that would have caused the write. The message names sizes only, never a key.
    """

    def __init__(self, table: str, size: int, bound: int) -> None:
        super().__init__(f"{table} value of {size} bytes is over the {bound}-byte bound")
        self.table = table
        self.size = size
        self.bound = bound


class OutputTooLarge(ProcessorsError):
    """An output message would exceed the producer's bound: refused before anything is sent.

    Checked for the whole batch before its first send, so a refusal never leaves part of a
    batch's outputs in Kafka (the input behind it is dead-lettered instead).
    """

    def __init__(self, topic: str, size: int, bound: int) -> None:
        super().__init__(f"output to {topic} of {size} bytes is over the {bound}-byte bound")
        self.topic = topic
        self.size = size
        self.bound = bound


class RetriesExhausted(ProcessorsError):
    """A transient failure outlasted every retry; the worker exits so the input is read again."""

    def __init__(self, what: str, attempts: int) -> None:
        super().__init__(f"{what} failed {attempts} times")
        self.what = what
        self.attempts = attempts
