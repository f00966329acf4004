"""Validate parsed parameters against an input shape's constraints, as AWS does on its side.

The checks are the model's: required members, enum, pattern, length (strings, blobs, lists, maps) and value
range (numbers). Types are the parser's business: a value of the wrong type never gets here.

Violations come in AWS's order: members in model order, depth first; for one value enum, pattern, then length,
then range (STS shows a pattern violation before a length one for the same value). Paths are AWS's: member names
with the first letter lowered, list elements as `tags.1.member.key`, e.g. `tags.6.member.value`.
A list (or map) of scalars is reported once, at the list, naming every constraint of its members:
`Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from pullcache.aws.patterns import compile_java_pattern

SCALAR_TYPES = frozenset({"string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"})
_SIZED_TYPES = frozenset({"string", "blob", "list", "map"})
_NUMBER_TYPES = frozenset({"integer", "long", "float", "double"})


class Constraint(StrEnum):
    NOT_NULL = "not_null"
    ENUM = "enum"
    PATTERN = "pattern"
    MAX_LENGTH = "max_length"
    MIN_LENGTH = "min_length"
    MAX_VALUE = "max_value"
    MIN_VALUE = "min_value"
    MEMBERS = "members"  # a list of scalars: some element breaks the member shape's constraints
    MAP_KEYS = "map_keys"
    MAP_VALUES = "map_values"


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken constraint: where, the value found (None when missing), the shape that constrains it, and the
    constraint with its limit (a bound, the pattern text, the enum values, or the member requirements)."""

    path: str
    value: Any
    shape: Shape
    constraint: Constraint
    limit: Any = None

    @property
    def requirement(self) -> str:
        """AWS's wording of the constraint: `Member must have length less than or equal to 64`."""
        return requirement(self.constraint, self.limit)


def requirement(constraint: Constraint, limit: Any) -> str:
    match constraint:
        case Constraint.NOT_NULL:
            return "Member must not be null"
        case Constraint.ENUM:
            return f"Member must satisfy enum value set: [{', '.join(limit)}]"
        case Constraint.PATTERN:
            return f"Member must satisfy regular expression pattern: {limit}"
        case Constraint.MAX_LENGTH:
            return f"Member must have length less than or equal to {limit}"
        case Constraint.MIN_LENGTH:
            return f"Member must have length greater than or equal to {limit}"
        case Constraint.MAX_VALUE:
            return f"Member must have value less than or equal to {limit}"
        case Constraint.MIN_VALUE:
            return f"Member must have value greater than or equal to {limit}"
        case Constraint.MEMBERS:
            return f"Member must satisfy constraint: [{', '.join(limit)}]"
        case Constraint.MAP_KEYS:
            return f"Map keys must satisfy constraint: [{', '.join(limit)}]"
        case Constraint.MAP_VALUES:
            return f"Map value must satisfy constraint: [{', '.join(limit)}]"


class Validator:
    """Checks parameters against the shapes of one service model. Every pattern of the model is compiled here,
    at start-up, so an untranslatable one stops the server instead of a request."""

    def __init__(self, model: ServiceModel) -> None:
        self._patterns: dict[str, re.Pattern[str]] = {}
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None and pattern not in self._patterns:
                self._patterns[pattern] = compile_java_pattern(pattern)

    def validate(self, shape: StructureShape | None, params: Mapping[str, Any]) -> list[Violation]:
        """Every violation of `shape`'s constraints by `params`, in AWS's order; empty when all hold."""
        return [] if shape is None else list(self._structure(shape, params, ""))

    def _structure(self, shape: StructureShape, value: Mapping[str, Any], path: str) -> Iterator[Violation]:
        required = shape.required_members
        for name, member in shape.members.items():
            member_path = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
            member_value = value.get(name)
            if member_value is None:
                if name in required:
                    yield Violation(member_path, None, member, Constraint.NOT_NULL)
                continue
            yield from self._value(member, member_value, member_path)

    def _value(self, shape: Shape, value: Any, path: str) -> Iterator[Violation]:
        for constraint, limit in self._broken(shape, value):
            yield Violation(path, value, shape, constraint, limit)
        if isinstance(shape, StructureShape):
            yield from self._structure(shape, value, path)
        elif isinstance(shape, ListShape):
            yield from self._list(shape, value, path)
        elif isinstance(shape, MapShape):
            yield from self._map(shape, value, path)

    def _list(self, shape: ListShape, value: list[Any], path: str) -> Iterator[Violation]:
        member = shape.member
        if member.type_name in SCALAR_TYPES:
            if any(element is not None and any(self._broken(member, element)) for element in value):
                yield Violation(path, value, shape, Constraint.MEMBERS, self._requirements(member))
            return
        for index, element in enumerate(value, 1):
            element_path = f"{path}.{index}.member"
            if element is None:
                yield Violation(element_path, None, member, Constraint.NOT_NULL)
            else:
                yield from self._value(member, element, element_path)

    def _map(self, shape: MapShape, value: dict[str, Any], path: str) -> Iterator[Violation]:
        if any(any(self._broken(shape.key, key)) for key in value):
            yield Violation(path, value, shape, Constraint.MAP_KEYS, self._requirements(shape.key))
        if shape.value.type_name in SCALAR_TYPES:
            if any(item is not None and any(self._broken(shape.value, item)) for item in value.values()):
                yield Violation(path, value, shape, Constraint.MAP_VALUES, self._requirements(shape.value))
            return
        for key, item in value.items():
            if item is not None:
                yield from self._value(shape.value, item, f"{path}.{key}")

    def _broken(self, shape: Shape, value: Any) -> Iterator[tuple[Constraint, Any]]:
        """The constraints of `shape` itself that `value` breaks, in AWS's order."""
        traits = shape.metadata
        if "enum" in traits and value not in traits["enum"]:
            yield Constraint.ENUM, traits["enum"]
        if "pattern" in traits and self._patterns[traits["pattern"]].fullmatch(value) is None:
            yield Constraint.PATTERN, traits["pattern"]
        if shape.type_name in _SIZED_TYPES:
            if "max" in traits and len(value) > traits["max"]:
                yield Constraint.MAX_LENGTH, traits["max"]
            if "min" in traits and len(value) < traits["min"]:
                yield Constraint.MIN_LENGTH, traits["min"]
        elif shape.type_name in _NUMBER_TYPES:
            if "max" in traits and value > traits["max"]:
                yield Constraint.MAX_VALUE, traits["max"]
            if "min" in traits and value < traits["min"]:
                yield Constraint.MIN_VALUE, traits["min"]

    def _requirements(self, shape: Shape) -> tuple[str, ...]:
        """Every constraint of a scalar shape, worded, in AWS's order."""
        traits = shape.metadata
        found: list[tuple[Constraint, Any]] = []
        if "enum" in traits:
            found.append((Constraint.ENUM, traits["enum"]))
        if "pattern" in traits:
            found.append((Constraint.PATTERN, traits["pattern"]))
        sized = shape.type_name in _SIZED_TYPES
        if "max" in traits:
            found.append((Constraint.MAX_LENGTH if sized else Constraint.MAX_VALUE, traits["max"]))
        if "min" in traits:
            found.append((Constraint.MIN_LENGTH if sized else Constraint.MIN_VALUE, traits["min"]))
        return tuple(requirement(constraint, limit) for constraint, limit in found)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]
