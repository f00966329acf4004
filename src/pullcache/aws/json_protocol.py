"""AWS JSON 1.1 (ECR, Secrets Manager): `X-Amz-Target: <targetPrefix>.<Operation>`, a JSON body each way.

Requests: members by name, timestamps as epoch seconds, blobs in base64; null is the same as absent. A value of
the wrong JSON type is a SerializationException, worded the way AWS's Java front end words it
(`STRING_VALUE can not be converted to an Integer`).
Responses: compact JSON in model member order, None omitted, timestamps as epoch seconds printed the way Java
prints a double (`1.551295405298E9`, as AWS's examples show), blobs in base64.
Errors: `{"__type": code, "message": text}` (the `Message` casing where the model's error shapes use it).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from pullcache.aws.errors import (
    ErrorReply,
    InvalidInput,
    MalformedRequest,
    MissingAction,
    OperationNotImplemented,
    ProtocolError,
    UnknownOperation,
)
from pullcache.aws.validation_messages import ValidationDialect
from pullcache.aws.wire import REQUEST_ID_HEADER, Params, ParsedRequest, WireError, WireRequest, WireResponse

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_HEADER = "X-Amz-Target"
# No input shape of ECR or Secrets Manager nests a tenth as deep; a body that does is refused before it is parsed
# (json.loads recurses once per level, and a few thousand levels exhaust the interpreter's stack).
MAX_NESTING = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"{}[]")))
_TARGET_TYPES = {
    "string": "String",
    "integer": "an Integer",
    "long": "a Long",
    "float": "a Float",
    "double": "a Double",
    "boolean": "a Boolean",
    "timestamp": "a Date",
    "blob": "a ByteBuffer",
    "structure": "a Structure",
    "list": "a List",
    "map": "a Map",
}


class JsonProtocol:
    def __init__(self, model: ServiceModel, dialect: ValidationDialect) -> None:
        self._model = model
        self._dialect = dialect
        self._target_prefix = str(model.metadata["targetPrefix"])
        self._message_keys = {shape.name: _message_member(shape) for shape in model.error_shapes}
        keys = list(self._message_keys.values())
        self._default_message_key = max(("message", "Message"), key=keys.count)

    def parse(self, request: WireRequest) -> ParsedRequest:
        """Raises UnknownOperation or MalformedRequest."""
        target = request.header(TARGET_HEADER)
        prefix, _, name = (target or "").rpartition(".")
        if prefix != self._target_prefix or name not in self._model.operation_names:
            raise UnknownOperation(target)
        operation = self._model.operation_model(name)
        if _nesting(request.body) > MAX_NESTING:
            raise MalformedRequest(f"The request body nests objects and arrays deeper than {MAX_NESTING} levels")
        try:
            document = json.loads(request.body) if request.body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MalformedRequest(f"The request body is not valid JSON: {error}") from None
        shape = operation.input_shape
        if shape is None:
            return ParsedRequest(operation, {})
        params: Params = _read(shape, document)
        return ParsedRequest(operation, params)

    def serialize(self, operation: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse:
        shape = operation.output_shape
        body = "{}" if shape is None else _write(shape, output)
        return WireResponse(200, body.encode(), self._headers(request_id))

    def render_error(self, error: WireError, request_id: str) -> WireResponse:
        document: dict[str, object] = {"__type": error.error_code}
        if error.message is not None:
            document[self._message_keys.get(error.error_code, self._default_message_key)] = error.message
        if isinstance(error, ErrorReply):
            document.update(error.fields)
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return WireResponse(error.http_status, body.encode(), self._headers(request_id))

    def reply_for(self, error: ProtocolError) -> ErrorReply:
        match error:
            case InvalidInput():
                return ErrorReply(400, self._dialect.error_code, self._dialect.render(error.violations))
            case MalformedRequest():
                return ErrorReply(400, "SerializationException", error.message)
            case UnknownOperation() | MissingAction():
                # AWS sends no message with this one: {"__type":"UnknownOperationException"}.
                return ErrorReply(400, "UnknownOperationException")
            case OperationNotImplemented():
                # Reasoned: what an AWS JSON service answers for an operation it does not serve (a target it does
                # not know) is this code, a client error that no SDK retries and that tools already read as "not
                # supported here"; AWS sends it bare, this server says which operation and why.
                return ErrorReply(400, "UnknownOperationException", error.message)
        raise TypeError(f"no reply for {error!r}")

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"Content-Type": CONTENT_TYPE, REQUEST_ID_HEADER: request_id}


def _message_member(shape: Shape) -> str:
    members = shape.members if isinstance(shape, StructureShape) else {}
    return "Message" if "Message" in members else "message"


def _read(shape: Shape, value: Any) -> Any:
    """The Python value of a request's JSON `value` for `shape`; raises MalformedRequest on a type mismatch."""
    kind = shape.type_name
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        found: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(member.serialization.get("name", name))
            if item is not None:
                found[name] = _read(member, item)
        return found
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [None if element is None else _read(shape.member, element) for element in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: None if item is None else _read(shape.value, item) for key, item in value.items()}
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, bool):
        raise _mismatch(value, kind)
    if kind in ("integer", "long") and isinstance(value, int):
        return value
    if kind in ("float", "double") and isinstance(value, int | float):
        return float(value)
    if kind == "timestamp" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise MalformedRequest("Base64 encoded binary data is not valid") from None
    raise _mismatch(value, kind)


def _mismatch(value: Any, kind: str) -> MalformedRequest:
    if isinstance(value, dict):
        return MalformedRequest("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return MalformedRequest("Start of list found where not expected.")
    if isinstance(value, bool):
        token = "TRUE_VALUE" if value else "FALSE_VALUE"
    else:
        token = "STRING_VALUE" if isinstance(value, str) else "NUMBER_VALUE"
    if kind == "string":
        return MalformedRequest(f"{token} cannot be converted to String")
    return MalformedRequest(f"{token} can not be converted to {_TARGET_TYPES[kind]}")


def _write(shape: Shape, value: Any) -> str:
    """Compact JSON text of an output `value` for `shape`; raises ValueError or TypeError for a value the shape
    does not describe (a handler's bug)."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        _check_members(shape, value)
        items = (
            f"{_string(member.serialization.get('name', name))}:{_write(member, value[name])}"
            for name, member in shape.members.items()
            if value.get(name) is not None
        )
        return "{" + ",".join(items) + "}"
    if isinstance(shape, ListShape) and isinstance(value, list | tuple):
        return "[" + ",".join(_write(shape.member, element) for element in value) + "]"
    if isinstance(shape, MapShape) and isinstance(value, Mapping):
        return "{" + ",".join(f"{_string(key)}:{_write(shape.value, item)}" for key, item in value.items()) + "}"
    if kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind in ("float", "double") and isinstance(value, int | float) and not isinstance(value, bool):
        return java_double(float(value))
    if kind == "timestamp" and isinstance(value, datetime) and value.tzinfo is not None:
        return java_double(value.timestamp())
    if kind == "blob" and isinstance(value, bytes):
        return _string(base64.b64encode(value).decode())
    if kind == "string" and isinstance(value, str):
        return _string(value)
    raise TypeError(f"{value!r} is not a {kind} for the shape {shape.name}")


def _check_members(shape: StructureShape, value: Any) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not a structure for the shape {shape.name}")
    unknown = set(value) - set(shape.members)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not members of the shape {shape.name}")


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def java_double(value: float) -> str:
    """`value` as Java's Double.toString prints it: plain from 10^-3 to 10^7, else `1.7E9`, `1.0E-4`."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{len(text) + exponent - 1}"


def _nesting(body: bytes) -> int:
    """How deep the body's objects and arrays nest (brackets inside strings do not count); cheap for the bodies
    AWS clients send, which hold a few brackets."""
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    opening = brackets.count(b"{") + brackets.count(b"[")
    if opening <= MAX_NESTING:
        return opening
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"{[" else -1
        deepest = max(deepest, depth)
    return deepest
