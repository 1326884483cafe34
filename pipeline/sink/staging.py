"""SQL that turns a batch of raw Kafka message values into typed staging rows.

A message value is one JSON record or ``{"records": [...]}`` (ARCHITECTURE.md, "Records from
processors to the sink"). DuckDB's JSON reader parses the whole batch column at a time; a
message that is not UTF-8 JSON, or a record missing a field the sink needs, becomes a row with
a ``reject`` reason (counted in ``sink_rejected``, never silently lost, never guessed).

Each staging row carries ``k``, its 128-bit de-duplication key: ``(purpose, event_id)`` for
sanitized records; ``(kind, event_id[, purpose])`` for decisions, ``source`` for invalid input.
"""

from __future__ import annotations

import json

_SANITIZED_FIELDS = {
    "event_id": "VARCHAR",
    "stream": "VARCHAR",
    "hour": "VARCHAR",
    "pseudonym": "VARCHAR",
    "anonymous": "BOOLEAN",
    "app": "VARCHAR",
    "platform": "VARCHAR",
    "screen": "VARCHAR",
    "campaign": "VARCHAR",
    "cell": "VARCHAR",
}
_DECISION_FIELDS = {
    "kind": "VARCHAR",
    "event_id": "VARCHAR",
    "stream": "VARCHAR",
    "day": "VARCHAR",
    "outcomes": "MAP(VARCHAR, VARCHAR)",
    "purpose": "VARCHAR",
    "transition": "VARCHAR",
    "subject": "VARCHAR",
    "source": "VARCHAR",
}


def _unnest_records(columns: str, source: str, fields: dict[str, str]) -> str:
    """One row per record of every message of ``source``; ``r`` is NULL for a bad message."""
    one = json.dumps(fields)
    many = json.dumps([fields])
    return f"""
    WITH m AS (SELECT {columns}, try(decode(value)) AS doc FROM {source}),
    v AS (
        SELECT {columns},
            CASE WHEN doc IS NULL OR NOT json_valid(doc) THEN NULL
                 WHEN json_type(doc, '$.records') = 'ARRAY'
                     THEN try(from_json(doc -> '$.records', '{many}'))
                 WHEN json_type(doc) = 'OBJECT' THEN [try(from_json(doc, '{one}'))]
            END AS recs
        FROM m)
    SELECT {columns}, unnest(coalesce(recs, [NULL])) AS r FROM v"""


def sanitized_staging(source: str) -> str:
    """``CREATE TEMP TABLE stg_s`` from the registered Arrow batch ``source``.

    Parameters: ``$closed_hour`` (TIMESTAMP): records of hours before it are rejected
    because their window closed (its member set is gone, visitors could not stay exact).
    """
    rows = _unnest_records("topic, purpose", source, _SANITIZED_FIELDS)
    return f"""
    CREATE OR REPLACE TEMP TABLE stg_s AS
    WITH rec AS ({rows}),
    typed AS (
        SELECT topic, purpose, r,
            date_trunc('hour', try_cast(r.hour AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS hour
        FROM rec)
    SELECT topic, purpose,
        unhex(md5(purpose || chr(31) || r.event_id)) AS k,
        r.stream AS stream, hour, r.pseudonym AS pseudonym,
        coalesce(r.anonymous, false) AS anonymous,
        coalesce(r.app, '') AS app, coalesce(r.platform, '') AS platform,
        coalesce(r.screen, '') AS screen, r.campaign AS campaign, r.cell AS cell,
        CASE WHEN r IS NULL THEN 'undecodable message'
             WHEN r.event_id IS NULL THEN 'missing event_id'
             WHEN hour IS NULL THEN 'missing or invalid hour'
             WHEN hour < $closed_hour THEN 'window already closed'
        END AS reject
    FROM typed"""


def decisions_staging(source: str) -> str:
    """``CREATE TEMP TABLE stg_d`` from the registered Arrow batch ``source``.

    Parameters: ``$closed_day`` (DATE): consent transitions of days before it are rejected
    (the day's subject set is gone). Event and invalid decisions are plain counts and are
    accepted for any day: a ``dropped_late`` decision is about an old day by definition.
    """
    rows = _unnest_records("0 AS unused", source, _DECISION_FIELDS)
    return f"""
    CREATE OR REPLACE TEMP TABLE stg_d AS
    WITH rec AS ({rows}),
    typed AS (SELECT r, r.kind AS kind, try_cast(r.day AS DATE) AS day FROM rec)
    SELECT kind, day, r.stream AS stream, r.outcomes AS outcomes, r.purpose AS purpose,
        r.transition AS transition, r.subject AS subject,
        CASE kind
            WHEN 'event' THEN unhex(md5('event' || chr(31) || r.event_id))
            WHEN 'consent'
                THEN unhex(md5('consent' || chr(31) || r.event_id || chr(31) || r.purpose))
            WHEN 'invalid' THEN unhex(md5('invalid' || chr(31) || r.source))
        END AS k,
        CASE WHEN r IS NULL THEN 'undecodable message'
             WHEN kind IS NULL OR kind NOT IN ('event', 'consent', 'invalid')
                 THEN 'unknown decision kind'
             WHEN day IS NULL THEN 'missing or invalid day'
             WHEN kind = 'invalid' AND (r.source IS NULL OR r.stream IS NULL)
                 THEN 'invalid decision without source or stream'
             WHEN kind = 'event' AND (r.event_id IS NULL OR r.stream IS NULL
                                      OR r.outcomes IS NULL)
                 THEN 'event decision without event_id, stream or outcomes'
             WHEN kind = 'consent' AND (r.event_id IS NULL OR r.purpose IS NULL
                 OR r.subject IS NULL
                 OR coalesce(r.transition NOT IN ('granted', 'denied', 'withdrawn'), true))
                 THEN 'consent decision without event_id, purpose, subject or transition'
             WHEN kind = 'consent' AND day < $closed_day THEN 'window already closed'
        END AS reject
    FROM typed"""
