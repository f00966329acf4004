"""Condition operators and how a Condition block is evaluated against a request context.

A block is true when every operator is true (AND); an operator is true when every key under it is true (AND);
a key is true when any of its policy values matches (OR) - for negated operators, when none does.

Keys missing from the request (or present with no values):
- a plain operator is false, a negated one (StringNotEquals, NotIpAddress, ArnNotLike, ...) is true;
- `...IfExists` is true; `Null` is true for "true" and false for "false";
- `ForAllValues:` is true and `ForAnyValue:` is false, whatever the operator.
With a set operator every request value is tested: `ForAllValues:` needs each to pass, `ForAnyValue:` one.

Policy variables are expanded in String, ARN and Bool values only, as AWS documents.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pullcache.policy.context import RequestContext
from pullcache.policy.dates import to_datetime
from pullcache.policy.matching import Glob
from pullcache.policy.variables import expand

_IF_EXISTS = "IfExists"
_NULL = "Null"


class SetOperator(StrEnum):
    FOR_ANY_VALUE = "ForAnyValue"
    FOR_ALL_VALUES = "ForAllValues"


@dataclass(frozen=True, slots=True)
class Operator:
    """A condition operator as written, e.g. `ForAnyValue:StringLikeIfExists`."""

    name: str
    base: str
    set_operator: SetOperator | None = None
    if_exists: bool = False

    @property
    def negated(self) -> bool:
        return _FAMILIES[self.base].negated


@dataclass(frozen=True, slots=True)
class Condition:
    operator: Operator
    key: str
    values: tuple[str, ...]


def parse_operator(name: str) -> Operator | None:
    """The operator named `name`, or None when there is no such operator (names are case-sensitive)."""
    base, set_operator = name, None
    prefix, colon, rest = name.partition(":")
    if colon:
        try:
            base, set_operator = rest, SetOperator(prefix)
        except ValueError:
            return None
    if_exists = base.endswith(_IF_EXISTS) and base != _NULL + _IF_EXISTS
    if if_exists:
        base = base.removesuffix(_IF_EXISTS)
    return Operator(name, base, set_operator, if_exists) if base in _FAMILIES else None


def condition_text(value: str | bool | float) -> str:
    """A condition value as the string it is compared as: JSON `true` is "true", `3600` is "3600"."""
    return value if isinstance(value, str) else json.dumps(value)


def conditions_hold(conditions: Sequence[Condition], context: RequestContext, *, variables: bool) -> bool:
    """Whether every condition holds for `context`; `variables` says whether the document has policy variables."""
    return all(_holds(condition, context, variables) for condition in conditions)


def _holds(condition: Condition, context: RequestContext, variables: bool) -> bool:
    operator = condition.operator
    found = context.find_values(condition.key)
    if operator.base == _NULL:
        is_null = not found
        return any(value.lower() == ("true" if is_null else "false") for value in condition.values)
    if not found:
        if operator.if_exists or operator.set_operator is SetOperator.FOR_ALL_VALUES:
            return True
        return operator.set_operator is None and operator.negated
    family = _FAMILIES[operator.base]
    expand_variables = variables and family.variables
    patterns = [expand(value, context) if expand_variables else Glob.parse(value) for value in condition.values]

    def passes(request_value: str) -> bool:
        matched = any(family.match(request_value, pattern) for pattern in patterns if pattern is not None)
        return matched != family.negated

    results = (passes(value) for value in found)
    if operator.set_operator is SetOperator.FOR_ANY_VALUE or (operator.set_operator is None and not family.negated):
        return any(results)
    return all(results)  # ForAllValues:, and a plain negated operator (no request value may match)


@dataclass(frozen=True, slots=True)
class _Family:
    match: Callable[[str, Glob], bool]  # does one request value match one policy value
    negated: bool = False
    variables: bool = False


def _string_equals(value: str, pattern: Glob) -> bool:
    return value == pattern.text


def _string_equals_ignore_case(value: str, pattern: Glob) -> bool:
    return value.casefold() == pattern.text.casefold()


def _string_like(value: str, pattern: Glob) -> bool:
    return pattern.matches(value)


def _arn_like(value: str, pattern: Glob) -> bool:
    return pattern.matches_arn(value)


def _bool(value: str, pattern: Glob) -> bool:
    return value.lower() == pattern.text.lower()


def _numeric(compare: Callable[[Decimal, Decimal], bool]) -> Callable[[str, Glob], bool]:
    def match(value: str, pattern: Glob) -> bool:
        left, right = _number(value), _number(pattern.text)
        return left is not None and right is not None and compare(left, right)

    return match


def _date(compare: Callable[[datetime, datetime], bool]) -> Callable[[str, Glob], bool]:
    def match(value: str, pattern: Glob) -> bool:
        left, right = to_datetime(value), to_datetime(pattern.text)
        return left is not None and right is not None and compare(left, right)

    return match


def _binary_equals(value: str, pattern: Glob) -> bool:
    """Both sides are base64 text; they match when they encode the same bytes."""
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(pattern.text, validate=True)
    except (binascii.Error, ValueError):
        return False


def _ip_address(value: str, pattern: Glob) -> bool:
    """A bare address in the policy is a /32 (IPv4) or /128 (IPv6) range."""
    try:
        address = ipaddress.ip_address(value.strip())
        network = ipaddress.ip_network(pattern.text.strip(), strict=False)
    except ValueError:
        return False
    return address in network  # False across IP versions


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


_FAMILIES: dict[str, _Family] = {
    "StringEquals": _Family(_string_equals, variables=True),
    "StringNotEquals": _Family(_string_equals, negated=True, variables=True),
    "StringEqualsIgnoreCase": _Family(_string_equals_ignore_case, variables=True),
    "StringNotEqualsIgnoreCase": _Family(_string_equals_ignore_case, negated=True, variables=True),
    "StringLike": _Family(_string_like, variables=True),
    "StringNotLike": _Family(_string_like, negated=True, variables=True),
    "NumericEquals": _Family(_numeric(lambda a, b: a == b)),
    "NumericNotEquals": _Family(_numeric(lambda a, b: a == b), negated=True),
    "NumericLessThan": _Family(_numeric(lambda a, b: a < b)),
    "NumericLessThanEquals": _Family(_numeric(lambda a, b: a <= b)),
    "NumericGreaterThan": _Family(_numeric(lambda a, b: a > b)),
    "NumericGreaterThanEquals": _Family(_numeric(lambda a, b: a >= b)),
    "DateEquals": _Family(_date(lambda a, b: a == b)),
    "DateNotEquals": _Family(_date(lambda a, b: a == b), negated=True),
    "DateLessThan": _Family(_date(lambda a, b: a < b)),
    "DateLessThanEquals": _Family(_date(lambda a, b: a <= b)),
    "DateGreaterThan": _Family(_date(lambda a, b: a > b)),
    "DateGreaterThanEquals": _Family(_date(lambda a, b: a >= b)),
    "Bool": _Family(_bool, variables=True),
    "BinaryEquals": _Family(_binary_equals),
    "IpAddress": _Family(_ip_address),
    "NotIpAddress": _Family(_ip_address, negated=True),
    "ArnEquals": _Family(_arn_like, variables=True),
    "ArnLike": _Family(_arn_like, variables=True),
    "ArnNotEquals": _Family(_arn_like, negated=True, variables=True),
    "ArnNotLike": _Family(_arn_like, negated=True, variables=True),
    _NULL: _Family(lambda value, pattern: False),  # evaluated on its own in _holds
}
