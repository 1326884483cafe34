"""The client address: forwarded headers believed only from trusted proxies, always parsed."""

from __future__ import annotations

import pytest

from pipeline.collector.client_ip import ClientAddress, parse_networks

PROXIES = ClientAddress(parse_networks("10.0.0.0/8, 192.0.2.7, fd00::/8"))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ClientAddress().resolve("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"
    assert PROXIES.resolve("198.51.100.1", ["203.0.113.9"]) == "198.51.100.1"


def test_a_trusted_proxy_forwards_the_right_most_untrusted_hop() -> None:
    assert PROXIES.resolve("10.1.2.3", ["203.0.113.9"]) == "203.0.113.9"
    # The client wrote the left part itself; the proxies appended the rest.
    assert PROXIES.resolve("10.1.2.3", ["6.6.6.6, 203.0.113.9, 192.0.2.7"]) == "203.0.113.9"
    assert PROXIES.resolve("10.1.2.3", ["6.6.6.6", "203.0.113.9"]) == "203.0.113.9"
    assert PROXIES.resolve("fd00::1", ["2001:db8::0:1"]) == "2001:db8::1"  # canonical form
    assert PROXIES.resolve("10.1.2.3", []) == "10.1.2.3"  # no header: the peer itself
    assert PROXIES.resolve("10.1.2.3", ["10.9.9.9"]) == "10.9.9.9"  # all hops trusted


@pytest.mark.parametrize(
    "forwarded", ["not-an-ip", "203.0.113.9:443", "' OR 1=1 --", "", "x" * 500, "1.2.3.4 5"]
)
def test_a_forwarded_value_that_is_not_an_address_is_never_written(forwarded: str) -> None:
    assert PROXIES.resolve("10.1.2.3", [forwarded]) is None


def test_the_peer_is_parsed_too() -> None:
    assert ClientAddress().resolve("testclient", []) is None
    assert ClientAddress().resolve(None, []) is None
    assert ClientAddress().resolve("::ffff:198.51.100.4", []) == "198.51.100.4"
    assert ClientAddress().resolve("fe80::1%eth0", []) == "fe80::1"


def test_a_zone_id_is_text_and_never_written() -> None:
    assert PROXIES.resolve("10.1.2.3", ["fe80::1%" + "x" * 100]) == "fe80::1"
