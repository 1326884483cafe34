"""Errors of the policy package."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.errors import ConfigError, PipelineError


class PolicyError(ConfigError):
    """The policy file cannot be used; the message lists every mistake with its location.

    Attributes:
        source: The policy file as the user named it.
        problems: One ``"location: what is wrong"`` entry per mistake.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        # One line per problem whatever a key in the file contains (the CLI prints one line).
        self.problems = tuple(_one_line(p) for p in problems)
        super().__init__(f"{source}: {'; '.join(self.problems)}")


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class TcStringError(PipelineError, ValueError):
    """A consent/1 ``tcf`` value is not a usable IAB TCF v2 TC string.

    Processors ignore the ``tcf`` field of such an event and count it; the message says why
    and never repeats the string. It is also a ``ValueError`` (a bad input value), not a
    :class:`PolicyError`: the policy is fine, the event is not.

    Attributes:
        reason: A short code naming the rule broken (``encoding``, ``truncated``,
            ``trailing_data``, ``version``, ``policy_version``, ``segment_type``,
            ``missing_segment``, ``invalid_field``); processors count rejections by it.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason
