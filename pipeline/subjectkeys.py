"""Read the subject keys from Kafka (``keys decrypt``): the compacted topic
``privacy.subject-keys.v1``, every partition up to its end, a bounded read.

The latest value per handle wins; a tombstone (an erasure) removes it, so the keys of an
erased user are found nowhere and their tokens are :class:`~keys.exceptions.KeyDestroyed`.
Read once, on the first version-2 token, and indexed by subject key id.
"""

from __future__ import annotations

from keys import subjectkeys as sk
from keys.exceptions import InvalidToken
from pipeline import compacted
from pipeline.errors import PipelineError
from pipeline.settings import Settings
from pipeline.topics import TopicNames

READ_TIMEOUT_S = 60.0
"""Bound on reading the topic (a command must not hang)."""


class SubjectKeysUnavailable(PipelineError):
    """The subject-keys topic could not be read in time (the message says what to do)."""


def latest_records(settings: Settings, timeout_s: float = READ_TIMEOUT_S) -> dict[bytes, bytes]:
    """The latest record of every handle on the subject-keys topic (deleted: absent).

    Raises:
        SubjectKeysUnavailable: the topic was not read to its end within ``timeout_s``.
    """
    topic = TopicNames.from_settings(settings).subject_keys
    return compacted.latest(settings, topic, None, lambda _: True, timeout_s,
                            SubjectKeysUnavailable)


def build_index(records: dict[bytes, bytes]) -> dict[bytes, sk.Located]:
    """Subject key id -> where it is stored; records that do not decode are skipped."""
    found: dict[bytes, sk.Located] = {}
    for key, raw in records.items():
        try:
            record = sk.decode_record(raw)
            handle = key.decode("ascii")
        except (InvalidToken, UnicodeDecodeError):
            continue
        found.update(sk.index(handle, record))
    return found


class KafkaLookup:
    """An :data:`keys.subjectkeys.Lookup` over the topic, read on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._index: dict[bytes, sk.Located] | None = None

    def __call__(self, key_id: bytes) -> sk.Located | None:
        if self._index is None:
            self._index = build_index(latest_records(self._settings))
        return self._index.get(key_id)
