"""The aggregates of DESIGN.md section 8 built from sanitized records, declared once.

Each :class:`AggSpec` says which records feed a table, its window and dimensions, its plain
counters and its distinct-user column. :func:`merge_sql` builds the statements that fold a
batch of new (de-duplicated) records into the shard's counters and member sets.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AggSpec:
    """One aggregate table fed by sanitized records."""

    name: str
    """Table name in ``analytics.duckdb`` (``agg_<name>`` / ``members_<name>`` internally)."""
    purpose: str
    """The purpose whose records feed it."""
    where: str
    """Which staged records feed it (SQL over ``new_s``)."""
    window: str
    """Window column name: ``hour`` or ``day``."""
    dims: tuple[str, ...]
    counters: tuple[tuple[str, str], ...]
    """(column, aggregate expression over the batch's records)."""
    distinct: str
    """Distinct-user column (counts members of the window's set)."""

    @property
    def window_expr(self) -> str:
        """The window of a staged record (which carries its ``hour``)."""
        return "hour" if self.window == "hour" else "CAST(hour AS DATE)"

    @property
    def keys(self) -> tuple[str, ...]:
        """Window then dimensions: the primary key of the aggregate row."""
        return (self.window, *self.dims)


_NOT_ANON = "count(*) FILTER (WHERE NOT anonymous)"
_NAV = "purpose = 'audience_measurement' AND stream = 'navigation'"
_NAV_COUNTERS = (("views", _NOT_ANON), ("anonymous_views", "count(*) FILTER (WHERE anonymous)"))

_NAV_DIMS = ("app", "platform", "screen")
_GEO = "purpose = 'geolocation' AND cell IS NOT NULL"
_ADS = "purpose = 'advertising' AND campaign IS NOT NULL"

SANITIZED_AGGREGATES: tuple[AggSpec, ...] = (
    AggSpec("navigation_hourly", "audience_measurement", _NAV, "hour", _NAV_DIMS,
            _NAV_COUNTERS, "visitors"),
    AggSpec("navigation_daily", "audience_measurement", _NAV, "day", _NAV_DIMS,
            _NAV_COUNTERS, "visitors"),
    AggSpec("geolocation_hourly", "geolocation", _GEO, "hour", ("cell",),
            (("events", _NOT_ANON),), "users"),
    AggSpec("campaign_daily", "advertising", _ADS, "day", ("app", "campaign"),
            (("views", _NOT_ANON),), "visitors"),
)


def _member_key(parts: list[str]) -> str:
    """128-bit key of a set member: its window, its dimensions and its pseudonym."""
    return f"unhex(md5(concat_ws(chr(31), {', '.join(parts)})))"


def member_insert_sql(spec: AggSpec) -> str:
    """Insert the batch's (window, dims, member) into the set; RETURNING only the new ones."""
    keys = ", ".join(spec.keys)
    window = f"{spec.window_expr} AS {spec.window}"
    mk = _member_key([f"CAST({spec.window_expr} AS VARCHAR)", *spec.dims, "pseudonym"])
    return f"""
    INSERT INTO members_{spec.name} (mk, {keys})
    SELECT DISTINCT {mk}, {window}, {", ".join(spec.dims)}
    FROM new_s WHERE {spec.where} AND pseudonym IS NOT NULL AND NOT anonymous
    ON CONFLICT DO NOTHING RETURNING {keys}"""  # noqa: S608


def counter_merge_sql(spec: AggSpec, new_members: str) -> str:
    """Add the batch's counters and its newly seen members to the aggregate rows."""
    keys = ", ".join(spec.keys)
    select_dims = ", ".join((f"{spec.window_expr} AS {spec.window}", *spec.dims))
    counters = [c for c, _ in spec.counters]
    from_batch = ", ".join(f"{expr} AS {col}" for col, expr in spec.counters)
    zeros = ", ".join(f"0 AS {c}" for c in counters)
    sums = ", ".join(f"sum({c})::BIGINT AS {c}" for c in (*counters, spec.distinct))
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in (*counters, spec.distinct))
    columns = ", ".join((*spec.keys, *counters, spec.distinct))
    return f"""
    INSERT INTO agg_{spec.name} ({columns})
    SELECT {keys}, {sums} FROM (
        SELECT {select_dims}, {from_batch}, 0 AS {spec.distinct}
        FROM new_s WHERE {spec.where} GROUP BY ALL
        UNION ALL BY NAME
        SELECT {keys}, {zeros}, count(*) AS {spec.distinct} FROM {new_members} GROUP BY ALL
    ) GROUP BY ALL
    ON CONFLICT DO UPDATE SET {updates}"""  # noqa: S608


PROCESSING_MERGE = """
    INSERT INTO agg_processing_daily
    SELECT day, stream, purpose, outcome, count(*) AS events FROM (
        SELECT day, stream, unnest(map_keys(outcomes)) AS purpose,
               unnest(map_values(outcomes)) AS outcome
        FROM new_d WHERE kind = 'event'
        UNION ALL
        SELECT day, stream, 'all' AS purpose, 'invalid' AS outcome
        FROM new_d WHERE kind = 'invalid'
    ) WHERE purpose IS NOT NULL AND outcome IS NOT NULL GROUP BY ALL
    ON CONFLICT DO UPDATE SET events = events + excluded.events"""

CONSENT_MEMBERS = f"""
    INSERT INTO members_consent_daily (mk, day, purpose, transition)
    SELECT DISTINCT {_member_key(["CAST(day AS VARCHAR)", "purpose", "transition", "subject"])},
        day, purpose, transition
    FROM new_d WHERE kind = 'consent'
    ON CONFLICT DO NOTHING RETURNING day, purpose, transition"""  # noqa: S608

CONSENT_SUBJECTS = f"""
    INSERT INTO members_consent_subjects (mk, day, purpose)
    SELECT DISTINCT {_member_key(["CAST(day AS VARCHAR)", "purpose", "subject"])}, day, purpose
    FROM new_d WHERE kind = 'consent'
    ON CONFLICT DO NOTHING RETURNING day, purpose"""  # noqa: S608


def consent_merge_sql(new_transitions: str, new_subjects: str) -> str:
    """Add newly seen (subject, transition) pairs and subjects to ``agg_consent_daily``."""
    return f"""
    INSERT INTO agg_consent_daily
    SELECT day, purpose, sum(granted)::BIGINT, sum(denied)::BIGINT, sum(withdrawn)::BIGINT,
           sum(subjects)::BIGINT
    FROM (
        SELECT day, purpose,
            count(*) FILTER (WHERE transition = 'granted') AS granted,
            count(*) FILTER (WHERE transition = 'denied') AS denied,
            count(*) FILTER (WHERE transition = 'withdrawn') AS withdrawn,
            0 AS subjects
        FROM {new_transitions} GROUP BY ALL
        UNION ALL BY NAME
        SELECT day, purpose, 0 AS granted, 0 AS denied, 0 AS withdrawn, count(*) AS subjects
        FROM {new_subjects} GROUP BY ALL
    ) GROUP BY ALL
    ON CONFLICT DO UPDATE SET granted = granted + excluded.granted,
        denied = denied + excluded.denied, withdrawn = withdrawn + excluded.withdrawn,
        subjects = subjects + excluded.subjects"""  # noqa: S608
