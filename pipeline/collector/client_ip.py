"""The client's address: the socket peer, or what a trusted reverse proxy says it was.

``X-Forwarded-For`` is anyone's to write, so it is believed only when the socket peer is one
of the configured proxies (``PRIVACY_PIPELINE_COLLECTOR_TRUSTED_PROXIES``; default none, and
uvicorn's own proxy handling is off). The header is read right to left, skipping trusted
proxies; the first other hop is the client. Every candidate is parsed with :mod:`ipaddress`:
a value that is not an address is never written into an event.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR networks (validated by the settings already)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 client seen through an IPv6 socket is the IPv4 address.
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        # A zone id ("%eth0", any text after '%') is local and client-chosen: never written.
        return ipaddress.IPv6Address(address.packed)
    return address


class ClientAddress:
    """Resolves the client address of a request; ``proxies`` are the trusted ones."""

    def __init__(self, proxies: Sequence[Network] = ()) -> None:
        self._proxies = tuple(proxies)

    def _trusted(self, address: Address) -> bool:
        return any(address in net for net in self._proxies)

    def resolve(self, peer: str | None, forwarded_for: Sequence[str]) -> str | None:
        """The client address in canonical form, or ``None`` when it is not known.

        Args:
            peer: the socket peer's host (``request.client.host``).
            forwarded_for: every ``X-Forwarded-For`` header value, in order.

        Returns:
            The peer when it is not a trusted proxy or sent no forwarded header; else the
            right-most forwarded hop that is not a trusted proxy, if it parses as an address
            (``None`` otherwise: the proxy's own address is not the client's). When every
            hop is a trusted proxy, the left-most one.
        """
        address = _address(peer)
        if address is None:
            return None
        hops = [h for value in forwarded_for for h in value.split(",")]
        if not self._trusted(address) or not hops:
            return str(address)
        for hop in reversed(hops):
            forwarded = _address(hop)
            if forwarded is None:
                return None
            if not self._trusted(forwarded):
                return str(forwarded)
        return str(_address(hops[0]))  # every hop a trusted proxy: the first one sent it
