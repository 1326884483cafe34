"""Simulated customers: identifiers, device, home city and consent habits.

Every identifier is drawn from the seeded generator, so a seed gives the same people. IPs come
from documentation ranges only (RFC 5737, RFC 3849): nothing routable is ever produced.
"""

from __future__ import annotations

import math
import random
import uuid

from pipeline.simulator import model
from pipeline.simulator.model import User

_IPV4_NETS = ("192.0.2", "198.51.100", "203.0.113")
_IPV6_SHARE = 0.15


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (deterministic for a seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ip(rng: random.Random) -> str:
    if rng.random() < _IPV6_SHARE:
        groups = [rng.getrandbits(16) for _ in range(6)]
        return "2001:db8:" + ":".join(f"{g:x}" for g in groups)
    return f"{rng.choice(_IPV4_NETS)}.{rng.randint(1, 254)}"


def _device_id(rng: random.Random, platform: str) -> str:
    if platform == "ios":  # identifierForVendor
        return new_uuid(rng).upper()
    if platform == "android":  # Settings.Secure.ANDROID_ID: 64 bits in hex
        return f"{rng.getrandbits(64):016x}"
    return "web-" + f"{rng.getrandbits(96):024x}"  # first-party cookie


def _platform(rng: random.Random) -> tuple[str, str, str]:
    weights = [p[2] for p in model.PLATFORMS]
    platform, app_name, _, versions = rng.choices(model.PLATFORMS, weights=weights)[0]
    return platform, app_name, rng.choice(versions)


def _city(rng: random.Random) -> tuple[str, float, float]:
    name, lat, lon, _ = rng.choices(model.CITIES, weights=[c[3] for c in model.CITIES])[0]
    return name, lat, lon


def _propensity(rng: random.Random) -> dict[str, bool]:
    # Most people click "accept all" or "refuse all" (one shared draw); others pick per purpose.
    shared = rng.random() < 0.6
    draw = rng.random()
    return {
        purpose: (draw if shared else rng.random()) < rate
        for purpose, rate in model.ACCEPT_RATES.items()
    }


def _rights(rng: random.Random) -> list[str]:
    return [right for right, share in model.RIGHTS.items() if rng.random() < share]


def make_user(rng: random.Random, taken: set[str]) -> User:
    """Draw one customer whose user id is not in ``taken`` (and add it there)."""
    user_id = f"MM{rng.randrange(10**9, 10**10)}"
    while user_id in taken:
        user_id = f"MM{rng.randrange(10**9, 10**10)}"
    taken.add(user_id)
    platform, app_name, version = _platform(rng)
    city = _city(rng)
    # Home within ~5 km of the city centre: pings cluster in a few cells per city.
    home = (city[1] + rng.gauss(0, 0.03), city[2] + rng.gauss(0, 0.04))
    web = platform == "web"
    find_nearby = not web and rng.random() < model.FIND_NEARBY_SHARE
    return User(
        user_id=user_id,
        platform=platform,
        app_name=app_name,
        version=version,
        device_id=_device_id(rng, platform),
        ips=[_ip(rng) for _ in range(rng.randint(1, 3))],
        contracts=[f"CT{rng.randrange(10**7, 10**8)}" for _ in range(rng.randint(1, 2))],
        city=city,
        home=home,
        activity=math.exp(rng.gauss(0, 0.8)),  # a few heavy users, many light ones
        answers=rng.random() >= model.NEVER_ANSWERS,
        late_answer=rng.random() < model.LATE_ANSWER,
        propensity=_propensity(rng),
        find_nearby=find_nearby,
        geolocation_ok=find_nearby and rng.random() < model.GEOLOCATION_ACCEPT,
        tcf=web and rng.random() < model.TCF_SHARE,
        gpc=web and rng.random() < model.GPC_SHARE,
        rights=_rights(rng),
    )


def make_users(rng: random.Random, count: int) -> list[User]:
    """``count`` distinct customers."""
    taken: set[str] = set()
    return [make_user(rng, taken) for _ in range(count)]
