"""How each AWS service words a request that breaks its model's constraints: the one table, and its two forms.

- The common (Coral) form, answered by IAM and STS as `ValidationError` and by Secrets Manager as
  `ValidationException`, lists every violation:
  `2 validation errors detected: Value '' at 'roleArn' failed to satisfy constraint: Member must satisfy regular
  expression pattern: ...; Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater
  than or equal to 20`; a missing member reads `Value null at 'userName' ...: Member must not be null`.
- ECR answers `InvalidParameterException` naming the first violation only, without its value:
  `Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value less than or equal to
  1000'`; for repository names it words the constraint its own way (`'must satisfy regular expression '...''`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ListShape, MapShape, Shape

from pullcache.aws.validation import Constraint, Violation

_UNSHOWN_TYPES = frozenset({"structure", "blob", "timestamp"})


@dataclass(frozen=True, slots=True)
class ValidationDialect:
    error_code: str
    render: Callable[[Sequence[Violation]], str]


def coral_message(violations: Sequence[Violation]) -> str:
    count = len(violations)
    details = "; ".join(
        f"{_value_phrase(violation)} at '{violation.path}' failed to satisfy constraint: {violation.requirement}"
        for violation in violations
    )
    return f"{count} validation error{'s' if count > 1 else ''} detected: {details}"


@dataclass(frozen=True, slots=True)
class InvalidParameterMessage:
    """ECR's form. `wording` replaces the requirement text for (shape name, constraint) pairs."""

    wording: Mapping[tuple[str, Constraint], str] = field(default_factory=dict)

    def __call__(self, violations: Sequence[Violation]) -> str:
        first = violations[0]
        text = self.wording.get((first.shape.name, first.constraint), first.requirement)
        return f"Invalid parameter at '{first.path}' failed to satisfy constraint: '{text}'"


def _value_phrase(violation: Violation) -> str:
    """`Value 'x'`, `Value null`, or `Value` alone: for sensitive members (as AWS does), and for blobs, timestamps
    and structures, or lists and maps of them, whose Java rendering cannot be reproduced."""
    shape, value = violation.shape, violation.value
    if value is None:
        return "Value null"
    if _unshown(shape):
        return "Value"
    shown = _java_text(value)
    return "Value" if shown is None else f"Value '{shown}'"


def _unshown(shape: Shape) -> bool:
    if isinstance(shape, ListShape):
        return _unshown(shape.member)
    if isinstance(shape, MapShape):
        return _unshown(shape.value)
    return shape.type_name in _UNSHOWN_TYPES or bool(shape.metadata.get("sensitive"))


def _java_text(value: Any) -> str | None:
    """What Java's toString prints for a parameter value, or None where that is nothing meaningful."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list):
        parts = [_java_text(element) for element in value]
        return None if any(part is None for part in parts) else f"[{', '.join(str(part) for part in parts)}]"
    if isinstance(value, dict):
        pairs = [(_java_text(key), _java_text(item)) for key, item in value.items()]
        if any(key is None or item is None for key, item in pairs):
            return None
        return "{" + ", ".join(f"{key}={item}" for key, item in pairs) + "}"
    return None  # bytes, datetimes


# ECR's own wording for repository names, as it answers CreateRepository (captured with "Bad_Name!"); note the
# pattern it prints lacks the `\/` escape of the model's.
_ECR_WORDING = {
    ("RepositoryName", Constraint.PATTERN): (
        "must satisfy regular expression '[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*'"
    ),
    ("RepositoryName", Constraint.MIN_LENGTH): "must have length greater than or equal to 2",
    ("RepositoryName", Constraint.MAX_LENGTH): "must have length less than or equal to 256",
}

VALIDATION_DIALECTS: dict[str, ValidationDialect] = {
    "ecr": ValidationDialect("InvalidParameterException", InvalidParameterMessage(_ECR_WORDING)),
    "secretsmanager": ValidationDialect("ValidationException", coral_message),
    "iam": ValidationDialect("ValidationError", coral_message),
    "sts": ValidationDialect("ValidationError", coral_message),
}
