"""Consent answers and rights requests a simulated user sends.

Banner answers come from the app (explicit purposes) or from a CMP (a TC string); browsers with
Global Privacy Control add ``gpc: true`` to every answer. Settings changes (withdrawals, late
grants) and rights requests come later, from the app settings screen or the DPO's API.
"""

from __future__ import annotations

import random
from datetime import datetime

from pipeline.simulator import model
from pipeline.simulator.model import Draft, User
from pipeline.simulator.sessions import ms
from pipeline.simulator.tcfstring import CoreSegment, encode

#: TCF purpose ids a CMP user consents to when they accept one of our purposes.
TCF_IDS = {
    "audience_measurement": (1, 8, 9),
    "personalisation": (1, 5, 6),
    "advertising": (1, 2, 3, 4, 7),
}


def _device(user: User) -> dict[str, object]:
    return {
        "device_id": user.device_id,
        "app": {"name": user.app_name, "platform": user.platform, "version": user.version},
    }


def _tcf_ids(rng: random.Random, user: User) -> set[int]:
    ids = {i for purpose, granted in user.propensity.items() if granted for i in TCF_IDS[purpose]}
    if ids and rng.random() < 0.15:  # a partial answer in the CMP's detailed screen
        ids.discard(rng.choice(sorted(ids)))
    ids.update(i for i in (10, 11) if rng.random() < 0.5)
    return ids


def _consent(user: User, at: datetime, purposes: dict[str, bool], source: str) -> Draft:
    body: dict[str, object] = {**_device(user), "purposes": purposes, "source": source}
    if user.gpc:
        body["gpc"] = True
    return Draft(ms(at), user, "consent/1", body, pinned=True)


def banner_answer(rng: random.Random, user: User, at: datetime) -> Draft:
    """The user's answer to the consent banner (explicit purposes or a TC string)."""
    purposes: dict[str, bool] = {} if user.tcf else dict(user.propensity)
    if rng.random() < model.UNKNOWN_PURPOSE_SHARE:
        purposes[model.UNKNOWN_PURPOSE] = rng.random() < 0.5
    draft = _consent(user, at, purposes, "banner")
    if user.tcf:
        # The CMP asks about precise geolocation (special feature 1) as the app's prompt does.
        features = frozenset({1}) if user.geolocation_ok else frozenset()
        draft.body["tcf"] = encode(CoreSegment(frozenset(_tcf_ids(rng, user)), ms(at), features))
    return draft


def geolocation_answer(user: User, at: datetime) -> Draft:
    """The answer to the in-app prompt for precise location (find-a-practitioner)."""
    return _consent(user, at, {"geolocation": user.geolocation_ok}, "banner")


def settings_change(rng: random.Random, user: User, at: datetime) -> Draft | None:
    """A later change in the app settings: withdraw a granted purpose or grant a new one.

    Returns:
        The consent event, or None when this user makes no change.
    """
    granted = [p for p, ok in user.propensity.items() if ok]
    if user.geolocation_ok:
        granted.append("geolocation")
    if granted and rng.random() < model.WITHDRAWS:
        chosen = rng.sample(granted, rng.randint(1, len(granted)))
        return _consent(user, at, dict.fromkeys(chosen, False), "app_settings")
    refused = [p for p, ok in user.propensity.items() if not ok]
    if refused and rng.random() < model.GRANTS_LATER:
        return _consent(user, at, {rng.choice(refused): True}, "app_settings")
    return None


def rights_request(rng: random.Random, user: User, at: datetime, right: str) -> Draft:
    """A rights/1 request; half the objections name ``fraud_prevention``, half name nothing."""
    body: dict[str, object] = {"right": right}
    if right == "objection" and rng.random() < 0.5:
        body["purposes"] = ["fraud_prevention"]
    return Draft(ms(at), user, "rights/1", body, pinned=True)
