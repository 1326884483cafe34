"""The raw identifiers a simulation sent, for leak-scan tests.

Test material only: the file written from it holds raw user ids, device ids, IPs and precise
coordinates, exactly what analysts' outputs must never contain.
"""

from __future__ import annotations

from typing import Any

_FIELDS = ("user_id", "device_id", "session_id", "ip")


class Collector:
    """Accumulates the identifiers of the events sent, deduplicated, in first-seen order."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[Any, None]] = {
            "user_ids": {},
            "device_ids": {},
            "session_ids": {},
            "ips": {},
            "coordinates": {},
            "query_values": {},
        }

    def add(self, event: dict[str, Any]) -> None:
        """Record the identifiers ``event`` carries (before any corruption)."""
        for name in _FIELDS:
            value = event.get(name)
            if isinstance(value, str):
                self._seen[name + "s"][value] = None
        lat, lon = event.get("lat"), event.get("lon")
        if isinstance(lat, float) and isinstance(lon, float):
            self._seen["coordinates"][(lat, lon)] = None
        screen = event.get("screen")
        if isinstance(screen, str) and "?" in screen:
            for pair in screen.split("?", 1)[1].split("&"):
                self._seen["query_values"][pair.partition("=")[2]] = None

    def result(self) -> dict[str, list[Any]]:
        """The identifiers by kind; coordinates as ``[lat, lon]`` pairs."""
        out: dict[str, list[Any]] = {k: list(v) for k, v in self._seen.items()}
        out["coordinates"] = [list(pair) for pair in out["coordinates"]]
        return out
