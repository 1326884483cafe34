"""The bench's fixed-seed workload: simulated traffic plus withdrawal probes, and its truth.

The traffic comes from :mod:`pipeline.simulator` (navigation, geolocation, consent churn,
rights, ~1 % malformed). Probe users grant every consent-based purpose in the backlog and
withdraw one by one while the workers are busy (:mod:`pipeline.bench.latency`); their
messages join the oracle's input so the published aggregates can be checked exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.policy import Policy
from pipeline.simulator import Message, SimulationConfig, Traffic, compute_truth, generate
from pipeline.simulator.clock import default_hours, default_start, to_ms
from pipeline.simulator.model import CONSENT


def consent_message(user: str, event_id: str, at: datetime, purposes: dict[str, bool],
                    batch: int) -> Message:
    """One valid consent/1 message (as the simulator would produce it)."""
    event: dict[str, Any] = {"schema": "consent/1", "event_id": event_id, "user_id": user,
                             "occurred_at": at.isoformat(), "purposes": purposes,
                             "source": "app_settings"}
    value = json.dumps(event, separators=(",", ":")).encode()
    return Message(CONSENT, user.encode(), value, to_ms(at), batch)


@dataclass
class Workload:
    """What the bench produces, and what the pipeline must make of it."""

    traffic: Traffic
    now: datetime
    probes: list[str]
    grants: list[Message]
    withdrawals: list[Message] = field(default_factory=list)
    """Filled by the prober as it sends them."""
    envelopes: bool = True
    """The traffic goes in envelopes, as the collector sends it (``bench --no-envelopes``: one
    message per event, as a direct Kafka producer)."""

    @property
    def size(self) -> int:
        """Input messages produced before the workers start."""
        return len(self.traffic.messages) + len(self.grants)

    def next_batch(self) -> int:
        """A production batch number after everything generated so far."""
        last = self.traffic.messages[-1].batch if self.traffic.messages else 0
        return last + 2 + 2 * len(self.withdrawals)

    def messages(self) -> list[Message]:
        """Every message in production order (for the oracle)."""
        return [*self.grants, *self.traffic.messages, *self.withdrawals]

    def invalid_count(self) -> int:
        """Messages the pipeline must dead-letter."""
        return sum(m.malformed is not None for m in self.traffic.messages)

    def truth(self, policy: Policy, now: datetime) -> dict[str, Any]:
        """The oracle's decisions and tables for everything sent, processed at ``now``."""
        return compute_truth(self.messages(), policy, now)


def build(events: int, users: int, seed: int, now: datetime, probes: int,
          consent_purposes: list[str]) -> Workload:
    """Generate the workload (deterministic for ``seed`` and ``now``'s hour).

    Args:
        events: simulated messages (probes come on top).
        users: simulated users.
        seed: the simulator's seed.
        now: processing time; the traffic ends at the hour before it.
        probes: users who withdraw during the run.
        consent_purposes: the purposes a probe grants (then withdraws).
    """
    hours = default_hours(events)
    traffic = generate(SimulationConfig(users, events, seed, default_start(now, hours), hours))
    granted_at = now - timedelta(minutes=10)
    ids = [f"bench-probe-{seed}-{i}" for i in range(probes)]
    grants = [consent_message(u, f"{u}-grant", granted_at, dict.fromkeys(consent_purposes, True), 0)
              for u in ids]
    return Workload(traffic, now, ids, grants)
