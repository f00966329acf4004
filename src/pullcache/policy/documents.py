"""Policy documents as values: parse the JSON text once, then evaluate the frozen result any number of times.

`parse_policy(text, kind)` validates with IAM's grammar and messages (see validation.py) and returns a
PolicyDocument. Element values keep the author's spelling; matching rules live in matching.py and conditions.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pullcache.policy.conditions import Condition, condition_text, parse_operator
from pullcache.policy.validation import CURRENT_VERSION, PolicyKind, validate_policy


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class Principals:
    """A Principal or NotPrincipal element: `"*"` (everyone), or principals by type."""

    everyone: bool = False
    aws: tuple[str, ...] = ()  # "*", account ids, and ARNs of the account root, users, roles, sessions
    service: tuple[str, ...] = ()  # service principals, e.g. ecs-tasks.amazonaws.com
    federated: tuple[str, ...] = ()  # identity providers, e.g. arn:aws:iam::123456789012:oidc-provider/...


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement. Of each pair (Action/NotAction, ...) at most one is set."""

    effect: Effect
    sid: str | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    principal: Principals | None = None
    not_principal: Principals | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    version: str | None
    statements: tuple[Statement, ...]
    id: str | None = None

    @property
    def has_variables(self) -> bool:
        """Policy variables exist from Version 2012-10-17; before it (and without Version) `${...}` is text."""
        return self.version == CURRENT_VERSION


def parse_policy(text: str, kind: PolicyKind, *, require_current_version: bool = False) -> PolicyDocument:
    """Parse a policy of `kind`; raises MalformedPolicyDocument with IAM's message.

    `require_current_version` is for managed policies, which must say Version 2012-10-17.
    """
    raw = validate_policy(text, kind, require_current_version=require_current_version)
    statements = raw["Statement"] if isinstance(raw["Statement"], list) else [raw["Statement"]]
    return PolicyDocument(raw.get("Version"), tuple(_statement(statement) for statement in statements), raw.get("Id"))


def _statement(raw: dict[str, Any]) -> Statement:
    return Statement(
        effect=Effect(raw["Effect"]),
        sid=raw.get("Sid"),
        action=_strings(raw.get("Action")),
        not_action=_strings(raw.get("NotAction")),
        resource=_strings(raw.get("Resource")),
        not_resource=_strings(raw.get("NotResource")),
        principal=_principals(raw.get("Principal")),
        not_principal=_principals(raw.get("NotPrincipal")),
        conditions=tuple(_conditions(raw.get("Condition", {}))),
    )


def _strings(value: str | list[str | None] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(entry for entry in value if entry is not None)


def _principals(value: str | dict[str, Any] | None) -> Principals | None:
    if value is None:
        return None
    if value == "*":
        return Principals(everyone=True)
    assert isinstance(value, dict)  # validated
    return Principals(
        aws=_strings(value.get("AWS")) or (),
        service=_strings(value.get("Service")) or (),
        federated=_strings(value.get("Federated")) or (),
    )


def _conditions(raw: dict[str, dict[str, Any]]) -> list[Condition]:
    conditions = []
    for name, block in raw.items():
        operator = parse_operator(name)
        if operator is None:  # validated: an unknown operator has an empty block
            continue
        for key, values in block.items():
            items = values if isinstance(values, list) else [values]
            conditions.append(Condition(operator, key, tuple(condition_text(item) for item in items)))
    return conditions
