"""SQL that types and checks decoded records (:mod:`pipeline.sink.decode`) into staging tables.

A record missing a field the sink needs becomes a row with a ``reject`` reason (counted in
``sink_rejected``, never silently lost, never guessed). Each staging row carries ``k``, its
128-bit de-duplication key: ``(purpose, event_id)`` for sanitized records;
``(kind, event_id[, purpose])`` for decisions, ``source`` for invalid input.
"""

from __future__ import annotations


def sanitized_staging(source: str) -> str:
    """``CREATE TEMP TABLE stg_s`` from the registered Arrow table ``source``.

    Parameters: ``$closed_hour`` (TIMESTAMP): records of hours before it are rejected because
    their window closed (its member set is gone, visitors could not stay exact).
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE stg_s AS
    WITH typed AS (
        SELECT *, date_trunc('hour', try_cast(hour AS TIMESTAMPTZ) AT TIME ZONE 'UTC') AS h
        FROM {source})
    SELECT topic, purpose,
        unhex(md5(purpose || chr(31) || event_id)) AS k,
        stream, h AS hour, pseudonym, coalesce(anonymous, false) AS anonymous,
        coalesce(app, '') AS app, coalesce(platform, '') AS platform,
        coalesce(screen, '') AS screen, campaign, cell,
        CASE WHEN event_id IS NULL THEN 'missing event_id'
             WHEN h IS NULL THEN 'missing or invalid hour'
             WHEN h < $closed_hour THEN 'window already closed'
        END AS reject
    FROM typed"""  # noqa: S608


def decisions_staging(source: str) -> str:
    """``CREATE TEMP TABLE stg_d`` from the registered Arrow table ``source``.

    Parameters: ``$closed_day`` (DATE): consent transitions of days before it are rejected
    (the day's subject set is gone). Event and invalid decisions are plain counts and are
    accepted for any day: a ``dropped_late`` decision is about an old day by definition.
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE stg_d AS
    WITH typed AS (SELECT *, try_cast("day" AS DATE) AS d FROM {source})
    SELECT kind, d AS day, stream, outcomes, purpose, transition, subject,
        CASE kind
            WHEN 'event' THEN unhex(md5('event' || chr(31) || event_id))
            WHEN 'consent'
                THEN unhex(md5('consent' || chr(31) || event_id || chr(31) || purpose))
            WHEN 'invalid' THEN unhex(md5('invalid' || chr(31) || source))
        END AS k,
        CASE WHEN kind IS NULL OR kind NOT IN ('event', 'consent', 'invalid')
                 THEN 'unknown decision kind'
             WHEN d IS NULL THEN 'missing or invalid day'
             WHEN kind = 'invalid' AND (source IS NULL OR stream IS NULL)
                 THEN 'invalid decision without source or stream'
             WHEN kind = 'event' AND (event_id IS NULL OR stream IS NULL OR outcomes IS NULL)
                 THEN 'event decision without event_id, stream or outcomes'
             WHEN kind = 'consent' AND (event_id IS NULL OR purpose IS NULL OR subject IS NULL
                 OR coalesce(transition NOT IN ('granted', 'denied', 'withdrawn'), true))
                 THEN 'consent decision without event_id, purpose, subject or transition'
             WHEN kind = 'consent' AND d < $closed_day THEN 'window already closed'
        END AS reject
    FROM typed"""  # noqa: S608
