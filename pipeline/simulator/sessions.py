"""App sessions: a walk through the insurer's screens, with geolocation pings near home.

A session is a few screen views seconds apart (log-normal gaps), sometimes starting from a
campaign link; on the find-a-practitioner screen a find-nearby user's phone sends a few
location pings. Everything is drawn from the caller's seeded generator.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.simulator import model
from pipeline.simulator.clock import paris_hour
from pipeline.simulator.model import Draft, User
from pipeline.simulator.people import new_uuid

_SCREEN_NAMES = list(model.SCREENS)
_SCREEN_CUMULATIVE = list(itertools.accumulate(model.SCREENS.values()))


@dataclass(frozen=True)
class Span:
    """The simulated time range, UTC, end inclusive."""

    start: datetime
    end: datetime


def ms(at: datetime) -> datetime:
    """``at`` truncated to milliseconds (what RFC 3339 strings carry)."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def pick_time(rng: random.Random, low: datetime, high: datetime) -> datetime:
    """A time in [low, high] following the daily activity curve (rejection sampling)."""
    width = (high - low).total_seconds()
    for _ in range(50):
        at = low + timedelta(seconds=rng.uniform(0, max(0.0, width)))
        if rng.random() < model.DIURNAL[paris_hour(at)]:
            return ms(at)
    return ms(low + timedelta(seconds=rng.uniform(0, max(0.0, width))))


def gap(rng: random.Random) -> timedelta:
    """Time between two screens: median ~15 s, rarely over 3 minutes."""
    return timedelta(seconds=min(300.0, 2.0 + rng.lognormvariate(2.4, 0.9)))


def session_length(rng: random.Random) -> int:
    """Screens in a session: geometric around ``MEAN_SESSION_SCREENS``, capped."""
    n = 1
    while rng.random() > 1.0 / model.MEAN_SESSION_SCREENS and n < model.MAX_SESSION_SCREENS:
        n += 1
    return n


def _screen(rng: random.Random, user: User, previous: str | None) -> str:
    name = rng.choices(_SCREEN_NAMES, cum_weights=_SCREEN_CUMULATIVE)[0]
    while name == previous:
        name = rng.choices(_SCREEN_NAMES, cum_weights=_SCREEN_CUMULATIVE)[0]
    return name.format(
        contract=rng.choice(user.contracts),
        claim=f"R{rng.randrange(10**8, 10**9)}",
        document=f"D{rng.getrandbits(40):010x}",
    )


@dataclass
class SessionWriter:
    """Builds the drafts of one session (shared ids: session, ip)."""

    rng: random.Random
    user: User
    session_id: str
    ip: str

    def common(self) -> dict[str, object]:
        """Fields every navigation/geolocation event of this session carries."""
        u = self.user
        return {
            "device_id": u.device_id,
            "session_id": self.session_id,
            "ip": self.ip,
            "app": {"name": u.app_name, "platform": u.platform, "version": u.version},
        }

    def view(self, at: datetime, screen: str, kind: str | None = None) -> Draft:
        """One navigation event (``screen_view`` on mobile, ``page_view`` on the web)."""
        default = "page_view" if self.user.platform == "web" else "screen_view"
        body = {**self.common(), "type": kind or default, "screen": screen}
        return Draft(ms(at), self.user, "navigation/1", body, session_id=self.session_id)

    def ping(self, at: datetime) -> Draft:
        """One geolocation event a few hundred metres around the user's home."""
        lat = self.user.home[0] + self.rng.gauss(0, 0.004)
        lon = self.user.home[1] + self.rng.gauss(0, 0.006)
        body = {
            **self.common(),
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "accuracy_m": round(self.rng.uniform(4.0, 65.0), 1),
        }
        return Draft(ms(at), self.user, "geolocation/1", body, session_id=self.session_id)


def _landing(writer: SessionWriter, at: datetime) -> Draft:
    rng, user = writer.rng, writer.user
    first = writer.view(at, "home")
    if rng.random() < model.CAMPAIGN_SHARE[user.platform]:
        first.body["campaign"] = rng.choice(model.CAMPAIGNS)
        if user.platform == "web":
            first.body["referrer"] = rng.choice(model.REFERRERS)
    return first


def session(
    rng: random.Random, user: User, at: datetime, length: int, pings: bool = True
) -> list[Draft]:
    """``length`` navigation events from ``at`` (plus pings on find-a-practitioner).

    Args:
        rng: The simulation's generator.
        user: Whose session.
        at: Time of the first screen.
        length: Number of navigation events (>= 1).
        pings: Whether find-nearby users send location pings in this session.
    """
    writer = SessionWriter(rng, user, new_uuid(rng), rng.choice(user.ips))
    drafts = [_landing(writer, at)]
    screen = "home"
    for _ in range(length - 1):
        at += gap(rng)
        if screen.split("?")[0] in model.ACTION_SCREENS and rng.random() < model.ACTION_SHARE:
            drafts.append(writer.view(at, screen, "action"))
            continue
        screen = _screen(rng, user, screen)
        drafts.append(writer.view(at, screen))
        if pings and user.find_nearby and screen == model.FIND_NEARBY:
            drafts.extend(_pings(writer, at))
    return drafts


def _pings(writer: SessionWriter, at: datetime) -> list[Draft]:
    rng = writer.rng
    out = []
    for _ in range(rng.randint(2, 6)):
        at += timedelta(seconds=rng.uniform(2.0, 12.0))
        out.append(writer.ping(at))
    return out
