"""DestinationPolicy: link-local refused by default, deny always wins, an allow list is all there is, names and
addresses judged before and after resolution; entries that cannot be read refused naming them."""

from __future__ import annotations

import ipaddress
import re

import pytest

from pullcache.pullthrough.destinations import DestinationPolicy, InvalidDestination, literal_address

DEFAULT = DestinationPolicy()


def at(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "[fe80::1]",
        "fe80::1%eth0",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "2852039166",  # 169.254.169.254 as one number
        "0xa9fea9fe",
        "169.254.43518",
    ],
)
def test_link_local_and_metadata_addresses_are_refused_by_default(host: str) -> None:
    assert DEFAULT.refusal(host) is not None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "10.1.2.3", "192.0.2.7", "2001:db8::1"])
def test_loopback_private_and_public_addresses_are_allowed_by_default(host: str) -> None:
    assert DEFAULT.refusal(host) is None


def test_a_name_is_judged_by_the_addresses_it_resolves_to() -> None:
    assert DEFAULT.refusal("registry.example") is None  # nothing known before resolution
    assert DEFAULT.refusal("registry.example", at("192.0.2.7")) is None
    assert DEFAULT.refusal("registry.example", at("169.254.169.254")) is not None
    assert DEFAULT.refusal("registry.example", at("::ffff:169.254.169.254")) is not None


def test_deny_entries_refuse_networks_addresses_and_names() -> None:
    policy = DestinationPolicy(deny=["127.0.0.2/32", "10.0.0.0/8", "Internal.Example.", "*.corp.example"])

    assert policy.refusal("127.0.0.2") is not None
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("localhost", at("10.9.9.9")) is not None
    assert policy.refusal("internal.example") is not None  # before any lookup
    assert policy.refusal("INTERNAL.EXAMPLE.") is not None
    assert policy.refusal("a.b.corp.example") is not None
    assert policy.refusal("corp.example") is None  # *. names subdomains only
    assert policy.refusal("notcorp.example") is None


def test_deny_wins_over_allow() -> None:
    policy = DestinationPolicy(allow=["10.0.0.0/8", "registry.example"], deny=["10.0.0.5", "registry.example"])

    assert policy.refusal("10.0.0.4") is None
    assert policy.refusal("10.0.0.5") is not None
    assert policy.refusal("registry.example", at("10.0.0.4")) is not None


def test_an_allow_list_is_all_that_is_allowed() -> None:
    policy = DestinationPolicy(allow=["127.0.0.2/32", "registry.example"])

    assert policy.refusal("127.0.0.2") is None
    assert policy.refusal("127.0.0.1") is not None
    assert policy.refusal("localhost", at("127.0.0.1")) is not None
    assert policy.refusal("localhost", at("127.0.0.2")) is None
    assert policy.refusal("registry.example", at("192.0.2.7")) is None  # an allowed name, wherever it resolves
    assert policy.refusal("localhost") is None  # its addresses decide, at connection


def test_an_allow_list_of_names_only_refuses_other_names_before_resolution() -> None:
    policy = DestinationPolicy(allow=["*.registry.example"])

    assert policy.refusal("mirror.registry.example") is None
    assert policy.refusal("elsewhere.example") is not None
    assert policy.refusal("192.0.2.7") is not None


def test_only_an_allow_network_inside_link_local_reopens_it() -> None:
    broad = DestinationPolicy(allow=["0.0.0.0/0", "::/0"])
    named = DestinationPolicy(allow=["metadata.internal"])
    narrow = DestinationPolicy(allow=["169.254.169.254/32", "fd00:ec2::254"])

    assert broad.refusal("169.254.169.254") is not None
    assert broad.refusal("fe80::1") is not None
    assert named.refusal("metadata.internal", at("169.254.169.254")) is not None
    assert narrow.refusal("169.254.169.254") is None
    assert narrow.refusal("fd00:ec2::254") is None
    assert narrow.refusal("169.254.169.253") is not None


def test_a_deny_entry_beats_a_reopened_link_local_address() -> None:
    policy = DestinationPolicy(allow=["169.254.0.0/16"], deny=["169.254.169.254"])

    assert policy.refusal("169.254.1.1") is None
    assert policy.refusal("169.254.169.254") is not None


@pytest.mark.parametrize(
    "entry", ["10.0.0.0/33", "10.0.0.1/8", "fe80::/129", "1.2.3", "bad name!", "", "a..b", "::ffff:10.0.0.0/104"]
)
def test_an_unreadable_entry_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(InvalidDestination, match=re.escape(repr(entry))):
        DestinationPolicy(deny=[entry])


def test_literal_addresses_are_read_in_every_form_the_resolver_would_take() -> None:
    assert literal_address("[fe80::1]") == at("fe80::1")
    assert literal_address("fe80::1%lo") == at("fe80::1")
    assert literal_address("::ffff:127.0.0.1") == at("127.0.0.1")
    assert literal_address("2130706433") == at("127.0.0.1")
    assert literal_address("registry.example") is None
    assert literal_address("1e100.net") is None
