"""The names a server certificate can carry as subject alternative names: IP addresses and DNS names (a wildcard
`*.` as the first label allowed). Here, not in tls/, so that the settings check them without loading the
certificate libraries."""

from __future__ import annotations

import ipaddress
from typing import Final

_LABEL_CHARACTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
MAX_DNS_NAME: Final = 253


def check_name(name: str) -> None:
    """Raises ValueError unless `name` is an IP address or a DNS name (`*.` allowed as its first label)."""
    if is_address(name):
        return
    labels = name.lower().removeprefix("*.").split(".")
    if len(name) > MAX_DNS_NAME or not all(_is_label(label) for label in labels):
        raise ValueError(f"{name!r} is neither an IP address nor a DNS name")


def is_name(name: str) -> bool:
    try:
        check_name(name)
    except ValueError:
        return False
    return True


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_label(label: str) -> bool:
    return 0 < len(label) <= 63 and set(label) <= _LABEL_CHARACTERS and label[0] != "-" and label[-1] != "-"
