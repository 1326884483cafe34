"""The local single-node Apache Kafka broker (KRaft) behind ``privacy-pipeline broker``.

Jars come from Maven Central (:mod:`pipeline.broker.jars`), files live under
``<data_dir>/kafka`` (:mod:`pipeline.broker.config`), and :mod:`pipeline.broker.local`
starts, stops and inspects the process.
"""

from __future__ import annotations

from pipeline.broker.jars import KAFKA_VERSION, fetch_jars
from pipeline.broker.local import BrokerState, start, status, stop

__all__ = ["KAFKA_VERSION", "BrokerState", "fetch_jars", "start", "status", "stop"]
