"""Options shared by the services' commands, spelled once: ``--log-level``.

Every service takes ``--log-level debug|info|warning|error`` (``warn`` and ``crit`` as faust
spells them are accepted too). Below ``debug``, the libraries' own chatter (faust, mode,
aiokafka, kafka-python, uvicorn's access details) is kept to WARNING and above: the default
log holds the pipeline's lines and real problems only.
"""

from __future__ import annotations

import logging

from pipeline.errors import UsageError

LEVELS = ("debug", "info", "warning", "error")
_ALIASES = {"warn": "warning", "crit": "error", "critical": "error"}
LOG_LEVEL_HELP = "debug, info, warning or error."
# faust's services log their start and stop under the module of their class: the worker's
# own consumer and monitor subclasses live in processors.worker.consumer and .monitor.
_LIBRARIES = ("faust", "mode", "aiokafka", "kafka", "rocksdict", "processors.worker.consumer",
              "processors.worker.monitor")


def log_level(raw: str) -> str:
    """``raw`` as one of :data:`LEVELS` (aliases mapped).

    Raises:
        UsageError: not a level; the message lists the valid ones.
    """
    level = _ALIASES.get(raw.strip().lower(), raw.strip().lower())
    if level not in LEVELS:
        raise UsageError(f"--log-level {raw!r}: use one of {', '.join(LEVELS)}")
    return level


def quiet_libraries(level: str) -> None:
    """Keep the libraries' records below WARNING out of the log unless ``level`` is debug."""
    floor = logging.DEBUG if level == "debug" else logging.WARNING
    for name in _LIBRARIES:
        logging.getLogger(name).setLevel(floor)
    # kafka-python complains at WARNING when its IO thread waits for the GIL.
    logging.getLogger("kafka.net").setLevel(max(floor, logging.ERROR))
