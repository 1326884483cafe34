"""What the simulated insurer apps look like: screens, cities, campaigns, consent habits.

Plain data only; :mod:`pipeline.simulator.people` and :mod:`pipeline.simulator.sessions` draw
from it. Rates are rough orders of magnitude for a French insurer's customer apps (CNIL
observations on banner answers: audience measurement accepted far more than advertising).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

# Re-exported (``as``) for the simulator's modules.
from pipeline.topics import CONSENT as CONSENT
from pipeline.topics import GEOLOCATION as GEOLOCATION
from pipeline.topics import NAVIGATION as NAVIGATION

#: Contract topic names (DESIGN.md section 3); the producer can map them to other names.
INPUT_TOPICS: Final = (NAVIGATION, GEOLOCATION, CONSENT)

#: Stream name of each input topic (``processing_daily.stream``).
STREAM_OF_TOPIC: Final = {NAVIGATION: "navigation", GEOLOCATION: "geolocation", CONSENT: "consent"}

#: Screen name -> weight of being the next screen. Names with ``{...}`` get a query string
#: carrying an identifier (contract, claim, document): the pipeline must never keep it.
SCREENS: Final[dict[str, float]] = {
    "home": 8.0,
    "contracts": 6.0,
    "contract-detail?id={contract}": 4.0,
    "reimbursements": 7.0,
    "reimbursement-detail?claim={claim}": 3.0,
    "health-care-quote": 3.0,
    "certificates": 4.0,
    "find-a-practitioner": 3.0,
    "messages": 3.0,
    "profile": 2.0,
    "documents": 3.0,
    "documents?doc={document}": 2.0,
    "claims": 2.0,
    "teleconsultation": 1.5,
    "retirement": 1.0,
    "help": 1.0,
}
#: Where the user changes consent answers (followed by a consent/1 from ``app_settings``).
PRIVACY_SCREEN: Final = "privacy-settings"
FIND_NEARBY: Final = "find-a-practitioner"
#: Screens on which an ``action`` (download, submit) is plausible.
ACTION_SCREENS: Final = frozenset(
    {"certificates", "health-care-quote", "documents", "claims", "messages", "teleconsultation"}
)

CAMPAIGNS: Final = (
    "mutuelle-sante-2026",
    "prevoyance-newsletter-04",
    "teleconsultation-launch",
    "optique-printemps",
    "retraite-webinar",
)
REFERRERS: Final = (
    "https://www.google.fr/",
    "https://www.bing.com/",
    "https://www.qwant.com/",
    "https://www.malakoffhumanis.com/",
)

#: (name, latitude, longitude, weight ~ metropolitan population).
CITIES: Final = (
    ("Paris", 48.8566, 2.3522, 40.0),
    ("Lyon", 45.7640, 4.8357, 12.0),
    ("Marseille", 43.2965, 5.3698, 12.0),
    ("Toulouse", 43.6047, 1.4442, 9.0),
    ("Lille", 50.6292, 3.0573, 8.0),
    ("Bordeaux", 44.8378, -0.5792, 7.0),
    ("Nantes", 47.2184, -1.5536, 7.0),
    ("Strasbourg", 48.5734, 7.7521, 5.0),
)

#: (platform, app name, weight, versions).
PLATFORMS: Final = (
    ("ios", "mm-mobile", 38.0, ("5.11.4", "5.12.0", "5.12.1", "5.13.0")),
    ("android", "mm-mobile", 32.0, ("5.11.3", "5.12.0", "5.12.2", "5.13.0")),
    ("web", "mm-web", 30.0, ("2026.03.1", "2026.04.0", "2026.04.2")),
)

#: Share of users who accept each purpose when they answer the banner.
ACCEPT_RATES: Final = {
    "audience_measurement": 0.70,
    "personalisation": 0.50,
    "advertising": 0.30,
}
#: Share of find-nearby users who accept precise geolocation.
GEOLOCATION_ACCEPT: Final = 0.40
#: A purpose name the policy does not know (ignored and counted by the pipeline).
UNKNOWN_PURPOSE: Final = "partner_offers"

#: Per-user habits.
NEVER_ANSWERS: Final = 0.12
LATE_ANSWER: Final = 0.06  # answers the banner after the 30 s grace window
FIND_NEARBY_SHARE: Final = 0.30  # of mobile users
TCF_SHARE: Final = 0.25  # of web users: a CMP sends a TC string
GPC_SHARE: Final = 0.10  # of web users: the browser sends Global Privacy Control
WITHDRAWS: Final = 0.06  # of users who granted something
GRANTS_LATER: Final = 0.04
UNKNOWN_PURPOSE_SHARE: Final = 0.02  # of consent events
RIGHTS: Final = {  # right -> share of users
    "access": 0.015,
    "portability": 0.005,
    "rectification": 0.005,
    "objection": 0.01,
    "erasure": 0.008,
}
CAMPAIGN_SHARE: Final = {"web": 0.20, "ios": 0.08, "android": 0.08}
ACTION_SHARE: Final = 0.10
MEAN_SESSION_SCREENS: Final = 6.0
MAX_SESSION_SCREENS: Final = 30

#: Relative activity per local (Paris) hour of day.
DIURNAL: Final = (
    0.10, 0.05, 0.03, 0.03, 0.05, 0.10, 0.30, 0.60, 0.90, 1.00, 1.00, 0.90,
    0.80, 0.90, 1.00, 1.00, 0.90, 0.90, 1.00, 1.00, 0.90, 0.70, 0.40, 0.20,
)  # fmt: skip

#: Share of messages that are deliberately malformed.
MALFORMED_SHARE: Final = 0.01


@dataclass
class User:
    """One simulated customer and the habits drawn for them."""

    user_id: str
    platform: str
    app_name: str
    version: str
    device_id: str
    ips: list[str]
    contracts: list[str]
    city: tuple[str, float, float]
    home: tuple[float, float]
    activity: float
    answers: bool
    late_answer: bool
    propensity: dict[str, bool]
    find_nearby: bool
    geolocation_ok: bool
    tcf: bool
    gpc: bool
    rights: list[str] = field(default_factory=list)
    erase_at: datetime | None = None
    """When the user's erasure request occurs (their last activity), if they send one."""


@dataclass
class Draft:
    """One message before serialisation: its time, user and schema-specific body.

    ``malformed`` names the corruption applied when the message is deliberately invalid.
    ``pinned`` drafts (the user's first screen view, a screen that leads to a consent answer)
    are never removed when the total is trimmed to the requested count.
    """

    at: datetime
    user: User
    schema: str
    body: dict[str, object]
    session_id: str | None = None
    malformed: str | None = None
    pinned: bool = False
    seq: int = 0

    @property
    def topic(self) -> str:
        """Contract topic of this draft."""
        if self.schema == "navigation/1":
            return NAVIGATION
        if self.schema == "geolocation/1":
            return GEOLOCATION
        return CONSENT
