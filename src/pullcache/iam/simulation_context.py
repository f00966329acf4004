"""The simulator's ContextEntries: typed condition key values, checked and turned into the request's keys.

    ContextKeyType   values                                     passed to the engine as
    string           any text                                   the text
    numeric          a decimal number                           the text
    boolean          true / false (any case)                    the text
    date             ISO 8601 (as IAM reads it) or epoch time   the text
    ip               an address or a CIDR range                 the text
    binary           base64                                     the text
    ...List         several values of the type above           the list (for ForAnyValue / ForAllValues)

A single-valued type takes exactly one value. The engine compares values as each condition operator reads them,
so a value is only checked here to be readable as its type.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pullcache.iam.errors import InvalidInput
from pullcache.policy import ContextValue
from pullcache.policy.dates import to_datetime

_LIST = "List"


@dataclass(frozen=True, slots=True)
class ContextEntry:
    name: str
    values: tuple[str, ...]
    type: str = "string"


def context_keys(entries: Sequence[ContextEntry]) -> dict[str, ContextValue]:
    """The keys of `entries`, a later entry for the same key winning. Raises InvalidInput for a value that is
    not of its type, or several values for a single-valued type."""
    keys: dict[str, ContextValue] = {}
    for entry in entries:
        base = entry.type.removesuffix(_LIST)
        is_list = entry.type.endswith(_LIST)
        if not is_list and len(entry.values) != 1:
            raise InvalidInput(f"Context key {entry.name} of type {entry.type} takes exactly one value.")
        readable = _READERS[base]
        for value in entry.values:
            if not readable(value):
                raise InvalidInput(f"Context key {entry.name} has the value {value}, which is not a {base} value.")
        keys[entry.name] = list(entry.values) if is_list else entry.values[0]
    return keys


def _numeric(value: str) -> bool:
    try:
        return Decimal(value.strip()).is_finite()
    except InvalidOperation:
        return False


def _boolean(value: str) -> bool:
    return value.lower() in ("true", "false")


def _date(value: str) -> bool:
    return to_datetime(value) is not None


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return True


def _binary(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


_READERS: dict[str, Callable[[str], bool]] = {
    "string": lambda value: True,
    "numeric": _numeric,
    "boolean": _boolean,
    "date": _date,
    "ip": _ip,
    "binary": _binary,
}
