"""The subject-keys table's changelog is the product topic privacy.subject-keys.v1 (pinned
against the installed faust: its table manager maps changelog topics to tables, and
recovery and every write use ``table.changelog_topic``)."""

from __future__ import annotations

from processors.worker import Worker


def test_changelog_is_the_subject_keys_topic(worker: Worker) -> None:
    app, names = worker.app, worker.names
    table = worker.tables.subject_keys
    assert table.changelog_topic_name == names.subject_keys
    assert table.changelog_topic.topics == (names.subject_keys,)
    assert app.tables._changelogs[names.subject_keys] is table  # recovery reads it
    assert names.subject_keys in app.tables.changelog_topics
    assert table.changelog_topic.partitions == table.partitions
    # Raw bytes in and out, like the other tables: the value is the record as stored.
    assert table.changelog_topic.key_serializer == "raw"
    assert table.changelog_topic.value_serializer == "raw"
