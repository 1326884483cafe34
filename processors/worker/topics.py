"""The faust topics the processors read and write (names from :mod:`pipeline.topics`)."""

from __future__ import annotations

from typing import Any

import faust

from pipeline.topics import TopicNames


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


def input_topic(faust_app: Any, topic_names: TopicNames) -> Any:
    """The three input topics as one faust topic of raw bytes.

    One merged stream: consent and events of a partition number reach the same agent in one
    task, so the consent fence never waits on another agent.
    """
    return faust_app.topic(
        *topic_names.inputs,
        schema=RawBytes(
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        ),
    )


def output(faust_app: Any, topic: str) -> Any:
    """A raw-bytes output topic (sanitized, decisions, dead letter)."""
    return faust_app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
