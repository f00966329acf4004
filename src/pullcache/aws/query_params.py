"""Read the flat parameters of a Query request (IAM, STS) into the nested parameters of an input shape.

The keys are the ones botocore's Query serializer writes: structure members as `A.B`, lists as
`Name.member.N` (`Name.N` when flattened, with the member's locationName where it has one), maps as
`Name.entry.N.key` / `Name.entry.N.value`, an empty list as `Name=` with no value. Scalars arrive as text:
booleans `true`/`false`, timestamps in ISO 8601, blobs in base64.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from pullcache.aws.errors import MalformedRequest

_INDEX = re.compile(r"(\d+)(?:\.|$)")


def read_structure(shape: StructureShape, form: Mapping[str, str], prefix: str = "") -> dict[str, Any]:
    """The members of `shape` found under `prefix`; raises MalformedRequest for text a scalar cannot be read from."""
    found: dict[str, Any] = {}
    for name, member in shape.members.items():
        key = _join(prefix, member.serialization.get("name", name))
        if _holds(member, form, key):
            found[name] = _read(member, form, key)
    return found


def _read(shape: Shape, form: Mapping[str, str], key: str) -> Any:
    if isinstance(shape, StructureShape):
        return read_structure(shape, form, key)
    if isinstance(shape, ListShape):
        return _read_list(shape, form, key)
    if isinstance(shape, MapShape):
        return _read_map(shape, form, key)
    return _scalar(shape, form[key], key)


def _read_list(shape: ListShape, form: Mapping[str, str], key: str) -> list[Any]:
    prefix = _list_prefix(shape, key)
    elements = (f"{prefix}.{index}" for index in _indices(form, prefix))
    return [_read(shape.member, form, element) for element in elements if _holds(shape.member, form, element)]


def _list_prefix(shape: ListShape, key: str) -> str:
    """What the element numbers follow: `Name.member`; when flattened `Name`, or the member's own locationName."""
    if not shape.serialization.get("flattened"):
        return f"{key}.{shape.member.serialization.get('name', 'member')}"
    member_name = shape.member.serialization.get("name")
    return _join(key.rpartition(".")[0], member_name) if member_name else key


def _read_map(shape: MapShape, form: Mapping[str, str], key: str) -> dict[str, Any]:
    prefix = key if shape.serialization.get("flattened") else f"{key}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    found: dict[str, Any] = {}
    for index in _indices(form, prefix):
        entry = f"{prefix}.{index}"
        item_key = form.get(f"{entry}.{key_name}")
        if item_key is not None:
            value_key = f"{entry}.{value_name}"
            found[item_key] = _read(shape.value, form, value_key) if _holds(shape.value, form, value_key) else None
    return found


def _scalar(shape: Shape, text: str, key: str) -> Any:
    kind = shape.type_name
    try:
        match kind:
            case "integer" | "long":
                return int(text)
            case "float" | "double":
                return float(text)
            case "boolean":
                if text not in ("true", "false"):
                    raise ValueError(text)
                return text == "true"
            case "timestamp":
                moment = datetime.fromisoformat(text)
                return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            case "blob":
                return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise MalformedRequest(f"Invalid {kind} value '{text}' for the parameter {key}") from None
    return text


def _holds(shape: Shape, form: Mapping[str, str], key: str) -> bool:
    """Whether the form has a value of `shape` at `key`: a scalar's own key (`UserName.0` is no UserName, and
    `Names.member.01` no element 1); any key beneath it for a structure, list or map (and an empty list's `Name=`)."""
    if isinstance(shape, ListShape) and _keys_under(form, _list_prefix(shape, key)):
        return True
    if isinstance(shape, StructureShape | ListShape | MapShape):
        return key in form or _keys_under(form, key)
    return key in form


def _keys_under(form: Mapping[str, str], key: str) -> bool:
    dotted = f"{key}."
    return any(name.startswith(dotted) for name in form)


def _indices(form: Mapping[str, str], prefix: str) -> list[int]:
    """The element numbers under `prefix`, in order (`Tags.member.2.Key` has 2 under `Tags.member`)."""
    dotted = f"{prefix}."
    numbers = {int(match[1]) for name in form if name.startswith(dotted) and (match := _INDEX.match(name, len(dotted)))}
    return sorted(numbers)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
