"""How each analyst-facing table is published: ``threshold`` (k users) or ``dp`` (noise).

The ``[publication]`` section of a policy file (DESIGN.md section 8)::

    [publication]
    release_after_hours = 2            # dp: a day is released once it ended this long ago

    [publication.budgets.navigation]   # one daily budget, shared by the tables that name it
    epsilon = 1.0
    delta = 1e-7

    [publication.tables.navigation_hourly]
    mode = "dp"                        # or "threshold" (the default for any table not listed)
    budget = "navigation"
    share = 0.5                        # of the budget's epsilon and delta, per UTC day
    max_views_per_day = 10             # per user (pseudonym) and day
    max_cells_per_day = 4              # distinct rows a user counts in, per day

The schema fragment checks each entry alone; :func:`publication_problems` checks that a dp
table names a declared budget and that the shares of one budget add up to at most 1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

Mode = Literal["threshold", "dp"]

DP_TABLES: Final = ("navigation_hourly", "navigation_daily", "geolocation_hourly",
                    "campaign_daily")
"""Tables whose rows count users (pseudonyms): the only ones dp mode can bound and noise."""

THRESHOLD_ONLY: Final = ("consent_daily", "processing_daily")
"""Tables published with k only (no per-user contributions reach the sink for them)."""

DEFAULT_RELEASE_AFTER_HOURS: Final = 2


@dataclass(frozen=True)
class DpBudget:
    """A daily (epsilon, delta) budget shared by several tables."""

    name: str
    epsilon: float
    delta: float


@dataclass(frozen=True)
class DpTable:
    """A table published in dp mode: its share of a budget and its contribution bounds."""

    name: str
    budget: DpBudget
    share: float
    max_views_per_day: int
    max_cells_per_day: int

    @property
    def epsilon(self) -> float:
        """This table's epsilon per UTC day."""
        return self.budget.epsilon * self.share

    @property
    def delta(self) -> float:
        """This table's delta per UTC day."""
        return self.budget.delta * self.share


@dataclass(frozen=True)
class Publication:
    """The policy's publication section, validated."""

    dp: Mapping[str, DpTable] = field(default_factory=lambda: MappingProxyType({}))
    """Tables in dp mode (every other table: threshold)."""
    release_after_hours: int = DEFAULT_RELEASE_AFTER_HOURS

    def mode(self, table: str) -> Mode:
        """``dp`` or ``threshold`` for ``table``."""
        return "dp" if table in self.dp else "threshold"


def publication_schema() -> dict[str, Any]:
    """JSON Schema of the ``[publication]`` section."""
    number = {"type": "number", "exclusiveMinimum": 0}
    budget = {
        "type": "object",
        "properties": {"epsilon": number, "delta": {**number, "exclusiveMaximum": 1e-3}},
        "required": ["epsilon", "delta"],
        "additionalProperties": False,
    }
    table = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["threshold", "dp"]},
            "budget": {"type": "string", "minLength": 1},
            "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "max_views_per_day": {"type": "integer", "minimum": 1, "maximum": 10_000},
            "max_cells_per_day": {"type": "integer", "minimum": 1, "maximum": 1_000},
        },
        "required": ["mode"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "release_after_hours": {"type": "integer", "minimum": 0, "maximum": 24 * 14},
            "budgets": {"type": "object", "additionalProperties": budget},
            "tables": {
                "type": "object",
                "propertyNames": {"enum": [*DP_TABLES, *THRESHOLD_ONLY]},
                "additionalProperties": table,
            },
        },
        "additionalProperties": False,
    }


_DP_KEYS: Final = ("budget", "share", "max_views_per_day", "max_cells_per_day")


def publication_problems(section: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Cross-entry mistakes of ``[publication]`` (entries of a wrong type are skipped)."""
    raw_budgets, raw_tables = section.get("budgets"), section.get("tables")
    budgets: Mapping[str, Any] = raw_budgets if isinstance(raw_budgets, Mapping) else {}
    tables: Mapping[str, Any] = raw_tables if isinstance(raw_tables, Mapping) else {}
    shares: dict[str, float] = {}
    for name, body in tables.items():
        if not isinstance(body, Mapping) or body.get("mode") != "dp":
            continue
        where = f"publication.tables.{name}"
        if name in THRESHOLD_ONLY:
            yield f"{where}.mode", "dp mode needs per-user rows; this table has none"
            continue
        for key in _DP_KEYS:
            if key not in body:
                yield f"{where}.{key}", "missing; dp mode needs it"
        budget, share = body.get("budget"), body.get("share")
        if isinstance(budget, str) and budget not in budgets:
            yield f"{where}.budget", f"no [publication.budgets.{budget}] declares it"
        elif isinstance(budget, str) and isinstance(share, int | float):
            shares[budget] = shares.get(budget, 0.0) + float(share)
    for budget, total in shares.items():
        if total > 1.0 + 1e-9:
            yield f"publication.budgets.{budget}", f"shares of its tables add up to {total:g} > 1"


def build_publication(section: Mapping[str, Any] | None) -> Publication:
    """The :class:`Publication` of a valid section (``None``: everything threshold)."""
    if not section:
        return Publication()
    budgets = {
        name: DpBudget(name, float(b["epsilon"]), float(b["delta"]))
        for name, b in section.get("budgets", {}).items()
    }
    dp = {
        name: DpTable(name, budgets[b["budget"]], float(b["share"]), int(b["max_views_per_day"]),
                      int(b["max_cells_per_day"]))
        for name, b in section.get("tables", {}).items()
        if b["mode"] == "dp"
    }
    return Publication(
        dp=MappingProxyType(dp),
        release_after_hours=int(section.get("release_after_hours", DEFAULT_RELEASE_AFTER_HOURS)),
    )
