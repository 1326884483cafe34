"""The HTTP collector: apps POST batches of events; valid ones go to Kafka keyed by user_id.

Build the app with :func:`pipeline.collector.app.create_app` (DESIGN.md sections 1 to 4).
Nothing heavy is imported here, so the CLI can load :mod:`pipeline.collector.auth` cheaply.
"""

from __future__ import annotations
