"""The record of processing (GDPR art. 30; seed § 6) from the policy and the live state.

Per purpose: legal basis, consent requirement, data categories by treatment, recipients
(the policy's, plus the topics and tables the pipeline feeds), transfers outside the EU,
automated decisions, retention and the key epochs that enforce it, the publication mode of
its tables, GPC/TCF handling and the latest published figures. Pure assembly: the caller
reads the keyring and ``analytics.duckdb`` (see :func:`key_destructions`, :func:`figures`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from pipeline.policy import TREATMENTS, Policy, Purpose
from pipeline.sink.dp import calibrate
from pipeline.topics import TopicNames

#: purpose -> analytics.duckdb tables its records feed (all purposes feed processing_daily).
PURPOSE_TABLES: Mapping[str, tuple[str, ...]] = {
    "audience_measurement": ("navigation_hourly", "navigation_daily"),
    "geolocation": ("geolocation_hourly",),
    "advertising": ("campaign_daily",),
}


@dataclasses.dataclass(frozen=True)
class Figures:
    """Latest published figures of one purpose (None: not published or no data)."""

    consent_rate: float | None
    kept_events: int | None
    dropped_events: int | None


@dataclasses.dataclass(frozen=True)
class PurposeRecord:
    """One purpose's entry in the record of processing."""

    purpose: str
    label: str
    basis: str
    consent_required: bool
    objectable: bool
    categories: dict[str, list[str]]
    recipients: list[str]
    topics: list[str]
    tables: list[str]
    transfers_outside_eu: str
    automated_decisions: str
    retention_days: int
    key_epoch: str
    next_key_destruction: str
    publication: dict[str, str]
    gpc: str
    tcf: str
    figures: Figures


@dataclasses.dataclass(frozen=True)
class Register:
    """The whole record: purposes, pipeline-wide figures and where it came from."""

    policy_source: str
    generated_at: datetime
    purposes: list[PurposeRecord]
    rights_requests: dict[str, int]
    """Rights requests handled per kind (``erasure``, ``access``...), as published."""
    dead_letters: int | None
    analytics: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        out = dataclasses.asdict(self)
        out["generated_at"] = self.generated_at.isoformat()
        return out


def _categories(p: Purpose) -> dict[str, list[str]]:
    return {t: sorted(f for f, how in p.fields.items() if how == t) for t in TREATMENTS}


def _publication(policy: Policy, tables: Sequence[str]) -> dict[str, str]:
    out = {}
    for table in (*tables, "processing_daily"):
        dp = policy.publication.dp.get(table)
        if dp is None:
            out[table] = f"threshold, k = {policy.k_threshold}"
            continue
        cal = calibrate(dp)
        out[table] = (f"dp, ε = {cal.epsilon:.3g}/day, δ = {cal.delta:.2g}, σ = "
                      f"{cal.sigma_users:.3g}, threshold = {cal.threshold}, ≤ "
                      f"{cal.max_views_per_day} views and ≤ {cal.max_cells_per_day} rows per "
                      "user and day")
    return out


def _tcf(policy: Policy, name: str) -> str:
    numbers = sorted(policy.tcf_requirements.get(name, ()))
    if not numbers:
        return "not decided by TC strings"
    listed = ", ".join(str(n) for n in numbers)
    return f"granted by a TC string only with TCF purposes {listed} all consented"


def purpose_record(
    policy: Policy, p: Purpose, destruction: str, figures: Figures, prefix: str = ""
) -> PurposeRecord:
    """One purpose's entry."""
    tables = list(PURPOSE_TABLES.get(p.name, ()))
    return PurposeRecord(
        purpose=p.name, label=p.label, basis=p.basis, consent_required=p.consent_required,
        objectable=p.objectable, categories=_categories(p),
        recipients=list(p.register.recipients),
        topics=[TopicNames(prefix).sanitized(p.name)], tables=[*tables, "processing_daily"],
        transfers_outside_eu=p.register.transfers_outside_eu,
        automated_decisions=p.register.automated_decisions,
        retention_days=p.retention_days, key_epoch=p.epoch, next_key_destruction=destruction,
        publication=_publication(policy, tables),
        gpc="a GPC signal denies it" if p.gpc_denies else "GPC does not apply",
        tcf=_tcf(policy, p.name), figures=figures,
    )


def key_destructions(
    policy: Policy, epochs: Mapping[str, list[date]], now: datetime
) -> dict[str, str]:
    """purpose -> when its oldest live key epoch is destroyed (start + retention).

    ``epochs``: start day of each live (not destroyed) epoch per purpose, from the keyring;
    a purpose absent from it has no keyring entry yet.
    """
    out = {}
    for name, p in policy.purposes.items():
        starts = epochs.get(name)
        if not starts:
            out[name] = (f"no key yet: each {p.epoch} epoch is destroyed {p.retention_days} "
                         "days after it starts")
            continue
        due = min(starts) + timedelta(days=p.retention_days)
        late = " (overdue: run `privacy-pipeline keys expire`)" if due <= now.date() else ""
        out[name] = f"{due.isoformat()}{late}"
    return out


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> Any:
    rows = conn.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def figures(conn: duckdb.DuckDBPyConnection | None, purpose: str) -> Figures:
    """A purpose's consent rate and kept/dropped events from ``analytics.duckdb``."""
    if conn is None:
        return Figures(None, None, None)
    granted, denied = conn.execute(
        "SELECT sum(granted), sum(denied) FROM consent_daily WHERE purpose = ?", [purpose]
    ).fetchall()[0]
    rate = granted / (granted + denied) if granted is not None and granted + denied else None
    kept = _scalar(conn, "SELECT sum(events) FROM processing_daily WHERE purpose = ? "
                   "AND outcome = 'kept'", [purpose])
    dropped = _scalar(conn, "SELECT sum(events) FROM processing_daily WHERE purpose = ? "
                      "AND outcome LIKE 'dropped%'", [purpose])
    return Figures(rate, None if kept is None else int(kept),
                   None if dropped is None else int(dropped))


def pipeline_figures(conn: duckdb.DuckDBPyConnection | None) -> tuple[dict[str, int], int | None]:
    """Rights requests handled per kind and dead letters (invalid input), as published."""
    if conn is None:
        return {}, None
    rows = conn.execute(
        "SELECT substr(outcome, 8), sum(events)::BIGINT FROM processing_daily "
        "WHERE outcome LIKE 'rights\\_%' ESCAPE '\\' GROUP BY ALL ORDER BY 1").fetchall()
    dead = _scalar(conn, "SELECT sum(events) FROM processing_daily WHERE outcome = 'invalid'",
                   [])
    return {str(k): int(v) for k, v in rows}, int(dead or 0)


def build_register(
    policy: Policy, destructions: Mapping[str, str], conn: duckdb.DuckDBPyConnection | None,
    analytics: Path | None, now: datetime, prefix: str = "",
) -> Register:
    """The whole record (``conn``: ``analytics.duckdb`` opened read-only, or None)."""
    records = [purpose_record(policy, p, destructions[p.name], figures(conn, p.name), prefix)
               for p in policy.purposes.values()]
    rights, dead = pipeline_figures(conn)
    source = str(analytics) if conn is not None else "not published yet"
    return Register(policy.source, now, records, rights, dead, source)
