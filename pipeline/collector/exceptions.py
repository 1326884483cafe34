"""Errors of the HTTP collector (all :class:`~pipeline.errors.PipelineError` subclasses)."""

from __future__ import annotations

from pipeline.errors import ConfigError, PipelineError


class CollectorError(PipelineError):
    """Base of the collector's errors."""


class KeyConfigError(ConfigError):
    """The API-key configuration (variable or file) cannot be read; the message says where."""


class SubjectConfigError(ConfigError):
    """The subject-token settings (JWKS file, issuer, audience) are unusable; says which."""


class SubjectTokenError(CollectorError):
    """A subject token is missing or does not verify; the message is the client's reason."""


class KafkaUnavailable(CollectorError):
    """Kafka did not acknowledge a batch in time; the HTTP layer answers 503 + Retry-After."""


class CollectorRequestFailed(CollectorError):
    """The client gave up on a batch (retries exhausted or a non-retryable answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
