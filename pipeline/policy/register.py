"""What the record of processing (GDPR art. 30; seed § 6 items 4, 9 and 11) needs per purpose.

Each purpose carries a required ``[purposes.<name>.register]`` table::

    [purposes.audience_measurement.register]
    recipients = ["Direction digitale du Groupe (statistiques agrégées)"]
    transfers_outside_eu = "aucun"
    automated_decisions = "aucune"

The loader refuses a policy where one is missing or empty: an auditor must never read a
blank where the controller owes an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegisterEntry:
    """The art. 30 answers the rest of the policy cannot derive."""

    recipients: tuple[str, ...]
    """Categories of recipients (seed § 5), besides the pipeline's own topics and tables."""
    transfers_outside_eu: str
    """Transfers to a country outside the EU and their safeguards (seed § 9), or "aucun"."""
    automated_decisions: str
    """Automated decision-making, profiling included, and its logic (seed § 6 (11))."""


def register_schema() -> dict[str, Any]:
    """JSON Schema of one purpose's ``register`` table (every key required, none empty)."""
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "properties": {
            "recipients": {"type": "array", "items": text, "minItems": 1, "uniqueItems": True},
            "transfers_outside_eu": text,
            "automated_decisions": text,
        },
        "required": ["recipients", "transfers_outside_eu", "automated_decisions"],
        "additionalProperties": False,
    }


def build_register(body: Mapping[str, Any]) -> RegisterEntry:
    """The entry of a valid ``register`` table."""
    return RegisterEntry(
        recipients=tuple(body["recipients"]),
        transfers_outside_eu=body["transfers_outside_eu"],
        automated_decisions=body["automated_decisions"],
    )
