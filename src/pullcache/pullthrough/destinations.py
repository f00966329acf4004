"""DestinationPolicy: where the server may connect on behalf of a pull-through cache rule (pure; no I/O).

Whoever may create a rule names a URL the server then connects to: without a policy, a rule (or a redirect, or a
token realm an upstream names) could point the server at the cloud's metadata service or any internal address.
The operator's policy is two lists of entries, each a network in CIDR notation (`10.0.0.0/8`, `fd00::/8`), a
single address (`192.0.2.7`, a /32 or /128), an exact host name (`registry.example`) or every subdomain of one
(`*.example`, not `example` itself). A destination is a host as a URL names it and, once resolved, the address
the server is about to connect to. It is refused when, in this order:

    1. a deny entry matches its name or its address                         (deny always wins)
    2. its address is link-local (169.254.0.0/16, fe80::/10, and the          (denied by default)
       metadata address fd00:ec2::254), unless an allow network inside
       those ranges holds it: `0.0.0.0/0` does not re-open 169.254.169.254,
       `169.254.169.254/32` does
    3. an allow list is given, and no allow entry matches its name or address (the allow list is all there is)

and allowed otherwise: with no lists at all, everything but link-local is allowed (loopback included). An IPv4
address written as IPv6 (`::ffff:169.254.169.254`) is judged as the IPv4 address it is.

Before resolution (`address` None: a rule being created) only what the name alone decides is refused: a denied
name, or a name outside an allow list that holds names only. A host written as an address is its own address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Link-local addresses (where cloud metadata services answer) and the IPv6 address of EC2's instance metadata
# service, which lies outside fe80::/10.
DENIED_BY_DEFAULT: Final[tuple[IPNetwork, ...]] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
WILDCARD: Final = "*."
_LABEL: Final = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME: Final = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}")
_NUMERIC: Final = re.compile(r"[0-9.]+")
_LEGACY_IPV4: Final = re.compile(r"(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}")


class InvalidDestination(ValueError):
    """An entry of a destination list that is neither a network, an address nor a host name."""


@dataclass(frozen=True, slots=True)
class _Entries:
    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()  # exact host names
    suffixes: tuple[str, ...] = ()  # ".example" for "*.example"

    @property
    def empty(self) -> bool:
        return not (self.networks or self.names or self.suffixes)

    def match_name(self, host: str) -> str | None:
        if host in self.names:
            return host
        return next((WILDCARD + suffix[1:] for suffix in self.suffixes if host.endswith(suffix)), None)

    def match_address(self, address: IPAddress) -> IPNetwork | None:
        return next((network for network in self.networks if address in network), None)


class DestinationPolicy:
    """The operator's allow and deny lists (see the module's docstring). Raises InvalidDestination for an entry
    that cannot be read, naming it."""

    def __init__(self, *, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self._allow = _parse(allow)
        self._deny = _parse(deny)
        # The allow networks that lift the default deny: those that lie inside one of its ranges.
        self._reopened = tuple(
            network for network in self._allow.networks if any(_inside(network, denied) for denied in DENIED_BY_DEFAULT)
        )

    def refusal(self, host: str, address: IPAddress | None = None) -> str | None:
        """Why connecting to `host` (at `address`, once resolved) is refused, in a few words for the server's
        log; None when it is allowed (or, without an address, not refused by its name alone)."""
        name = normalized_host(host)
        address = literal_address(name) if address is None else _unmapped(address)
        denied_name = self._deny.match_name(name)
        if denied_name is not None:
            return f"denied by the upstream deny entry {denied_name}"
        if address is not None:
            denied_network = self._deny.match_address(address)
            if denied_network is not None:
                return f"denied by the upstream deny entry {denied_network}"
            if _is_denied_by_default(address) and not any(address in network for network in self._reopened):
                return f"{address} is link-local (denied unless an upstream allow entry names it)"
        if self._allow.empty or self._allow.match_name(name) is not None:
            return None
        if address is None:
            # The addresses the name resolves to decide, unless no allow network could hold them.
            return None if self._allow.networks else "not named by the upstream allow list"
        if self._allow.match_address(address) is not None:
            return None
        return "not named by the upstream allow list"


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is when it is written as one, else None: IPv6 with or without brackets or a zone, and
    IPv4 in the legacy forms the C library reads too (`2852039166`, `0xa9fea9fe`, `169.254.43518`)."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(text.lower()) is None:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def normalized_host(host: str) -> str:
    """Lower case, without the root's trailing dot: how names are compared."""
    return host.lower().rstrip(".")


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _inside(network: IPNetwork, outer: IPNetwork) -> bool:
    if isinstance(network, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return network.subnet_of(outer)
    if isinstance(network, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return network.subnet_of(outer)
    return False


def _is_denied_by_default(address: IPAddress) -> bool:
    return any(address in network for network in DENIED_BY_DEFAULT)


def _parse(entries: Iterable[str]) -> _Entries:
    networks: list[IPNetwork] = []
    names: set[str] = set()
    suffixes: list[str] = []
    for given in entries:
        entry = given.strip()
        network = _network(entry)
        if network is not None:
            networks.append(network)
            continue
        name = normalized_host(entry)
        if not name or _NUMERIC.fullmatch(name) or _NAME.fullmatch(name) is None:
            raise InvalidDestination(
                f"{given!r} is not a network (10.0.0.0/8, fd00::/8), an address (192.0.2.7) or a host name "
                "(registry.example, *.example)"
            )
        if name.startswith(WILDCARD):
            suffixes.append(name[1:])
        else:
            names.add(name)
    return _Entries(tuple(networks), frozenset(names), tuple(suffixes))


def _network(entry: str) -> IPNetwork | None:
    """The network `entry` writes, or None when it does not look like one; raises InvalidDestination for a network
    written wrong (a prefix too long, host bits set)."""
    address = entry.partition("/")[0]
    if literal_address(address) is None or "%" in address or address.startswith("["):
        return None
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError as error:
        raise InvalidDestination(f"{entry!r} is not a network in CIDR notation: {error}") from None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        raise InvalidDestination(f"{entry!r}: write an IPv4 network in IPv4 notation")
    return network
