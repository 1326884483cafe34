"""The faust topics the processors read and write (names from :mod:`pipeline.topics`)."""

from __future__ import annotations

from typing import Any

import faust

from pipeline.app import app, names


class RawBytes(faust.Schema[bytes, bytes]):
    """Keys and values handed over as the bytes Kafka holds, without faust's codec registry.

    The engine decodes and validates every value itself (``schemas.validator``); faust's
    "raw" serializer would only copy the bytes, through several calls per record.
    """

    def loads_key(self, app: Any, message: Any, **kwargs: Any) -> Any:
        """The key's bytes."""
        return message.key

    def loads_value(self, app: Any, message: Any, **kwargs: Any) -> Any:
        """The value's bytes."""
        return message.value


# One merged stream: consent and events of a partition number reach the same agent in one
# task, so the consent fence never waits on another agent.
inputs: Any = app.topic(
    names.navigation,
    names.geolocation,
    names.consent,
    schema=RawBytes(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
)


def output(topic: str) -> Any:
    """A raw-bytes output topic (sanitized, decisions, dead letter)."""
    return app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
