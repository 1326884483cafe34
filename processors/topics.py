"""The faust topics the processors read and write (names from :mod:`pipeline.topics`)."""

from __future__ import annotations

from typing import Any

from pipeline.app import app, names

# One merged stream: consent and events of a partition number reach the same agent in one
# task, so the consent fence never waits on another agent.
inputs: Any = app.topic(
    names.navigation,
    names.geolocation,
    names.consent,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)


def output(topic: str) -> Any:
    """A raw-bytes output topic (sanitized, decisions, dead letter)."""
    return app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
