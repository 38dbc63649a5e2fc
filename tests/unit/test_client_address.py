"""The client address that per-address limits count (videoassist/client_address.py)."""

from __future__ import annotations

import pytest

from videoassist.client_address import TrustedProxies, parse_address
from videoassist.settings import Settings


class TestParseAddress:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("203.0.113.5", "203.0.113.5"),
            (" 203.0.113.5:4711 ", "203.0.113.5"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("::ffff:203.0.113.5", "203.0.113.5"),
        ],
    )
    def test_addresses_as_proxies_write_them(self, text: str, expected: str) -> None:
        assert str(parse_address(text)) == expected

    @pytest.mark.parametrize("text", ["", "unknown", "evil.example", "[::1", "1.2.3.4.5"])
    def test_anything_else_is_not_an_address(self, text: str) -> None:
        assert parse_address(text) is None


class TestClient:
    def test_with_no_trusted_proxy_the_peer_is_the_client_whatever_it_claims(self) -> None:
        assert TrustedProxies().client("198.51.100.7", ["203.0.113.5"]) == "198.51.100.7"

    def test_an_untrusted_peer_cannot_pose_as_another_client(self) -> None:
        proxies = TrustedProxies(["10.0.0.0/8"])
        assert proxies.client("198.51.100.7", ["10.0.0.1, 203.0.113.5"]) == "198.51.100.7"

    def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client(self) -> None:
        proxies = TrustedProxies(["10.0.0.0/8", "192.0.2.1"])
        # The client wrote the first hop itself; the two proxies appended the rest.
        header = "198.51.100.99, 203.0.113.5, 192.0.2.1"
        assert proxies.client("10.1.2.3", [header]) == "203.0.113.5"

    def test_several_headers_are_one_list_in_order(self) -> None:
        proxies = TrustedProxies(["10.0.0.1"])
        assert proxies.client("10.0.0.1", ["198.51.100.99", "203.0.113.5"]) == "203.0.113.5"

    def test_a_trusted_peer_without_the_header_is_the_client(self) -> None:
        assert TrustedProxies(["10.0.0.1"]).client("10.0.0.1", []) == "10.0.0.1"

    def test_a_hop_that_is_no_address_stops_at_the_last_trusted_one(self) -> None:
        proxies = TrustedProxies(["10.0.0.0/8"])
        assert proxies.client("10.0.0.1", ["203.0.113.5, junk, 10.0.0.2"]) == "10.0.0.2"

    def test_with_every_hop_trusted_the_left_most_is_the_client(self) -> None:
        proxies = TrustedProxies(["10.0.0.0/8"])
        assert proxies.client("10.0.0.1", ["10.9.9.9, 10.0.0.2"]) == "10.9.9.9"

    def test_ipv4_mapped_peers_are_matched_as_ipv4(self) -> None:
        proxies = TrustedProxies(["127.0.0.1"])
        assert proxies.client("::ffff:127.0.0.1", ["203.0.113.5"]) == "203.0.113.5"


def test_a_setting_that_is_not_an_address_or_cidr_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies=("10.0.0.0/8", "proxy.internal"))
