"""AWS Query (IAM, STS): form-encoded `Action`, `Version` and parameters in; XML out.

A response is `<{Op}Response xmlns="{the model's xmlNamespace}">`, holding `<{Op}Result>` (the output shape's
resultWrapper; absent for operations without output) and `<ResponseMetadata><RequestId>`. Lists are `<member>`
elements, maps `<entry><key/><value/></entry>`, booleans `true`/`false`, timestamps ISO 8601 to the second
(`2026-11-28T01:02:03Z`). Like AWS, the XML is indented by two spaces and ends with a newline.
Errors: `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

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
from pullcache.aws.query_params import read_structure
from pullcache.aws.validation_messages import ValidationDialect
from pullcache.aws.wire import REQUEST_ID_HEADER, ParsedRequest, WireError, WireRequest, WireResponse

CONTENT_TYPE = "text/xml"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_INDENT = "  "
_NOT_XML_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class QueryProtocol:
    def __init__(self, model: ServiceModel, dialect: ValidationDialect) -> None:
        self._model = model
        self._dialect = dialect
        self._namespace = str(model.metadata["xmlNamespace"])

    def parse(self, request: WireRequest) -> ParsedRequest:
        """Raises MissingAction, UnknownOperation or MalformedRequest."""
        try:
            body = request.body.decode()
        except UnicodeDecodeError:
            raise MalformedRequest("The request body is not UTF-8") from None
        form = dict(parse_qsl(request.query, keep_blank_values=True))
        form.update(parse_qsl(body, keep_blank_values=True))
        action = form.pop("Action", "")
        version = form.pop("Version", None)
        if not action:
            raise MissingAction()
        if action not in self._model.operation_names:
            raise UnknownOperation(action, version)
        operation = self._model.operation_model(action)
        shape = operation.input_shape
        return ParsedRequest(operation, {} if shape is None else read_structure(shape, form))

    def serialize(self, operation: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse:
        name = operation.name
        lines = [f'<{name}Response xmlns="{self._namespace}">']
        shape = operation.output_shape
        if shape is not None:
            lines.extend(_element(shape.serialization.get("resultWrapper", f"{name}Result"), shape, output, 1))
        lines += _metadata(request_id)
        lines.append(f"</{name}Response>")
        return WireResponse(200, _document(lines), self._headers(request_id))

    def render_error(self, error: WireError, request_id: str) -> WireResponse:
        fault = "Receiver" if error.http_status >= 500 else "Sender"
        lines = [
            f'<ErrorResponse xmlns="{self._namespace}">',
            f"{_INDENT}<Error>",
            f"{_INDENT * 2}<Type>{fault}</Type>",
            f"{_INDENT * 2}<Code>{_xml_text(error.error_code)}</Code>",
        ]
        if error.message is not None:
            lines.append(f"{_INDENT * 2}<Message>{_xml_text(error.message)}</Message>")
        lines += [f"{_INDENT}</Error>", f"{_INDENT}<RequestId>{request_id}</RequestId>", "</ErrorResponse>"]
        return WireResponse(error.http_status, _document(lines), self._headers(request_id))

    def reply_for(self, error: ProtocolError) -> ErrorReply:
        match error:
            case InvalidInput():
                return ErrorReply(400, self._dialect.error_code, self._dialect.render(error.violations))
            case MalformedRequest():
                return ErrorReply(400, self._dialect.error_code, error.message)
            case UnknownOperation():
                # Java's string concatenation: a request without Version reads "for version null".
                version = "null" if error.version is None else error.version
                return ErrorReply(
                    400, "InvalidAction", f"Could not find operation {error.operation} for version {version}"
                )
            case MissingAction():
                return ErrorReply(400, "MissingAction", "Missing Action")
            case OperationNotImplemented():
                # Reasoned: what IAM and STS answer for an Action they do not serve is InvalidAction (400, Sender;
                # "The action or operation requested is invalid", AWS's common errors), a client error no SDK
                # retries; the message names the operation and says this server does not implement it.
                return ErrorReply(400, "InvalidAction", error.message)
        raise TypeError(f"no reply for {error!r}")

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"Content-Type": CONTENT_TYPE, REQUEST_ID_HEADER: request_id}


def _metadata(request_id: str) -> list[str]:
    return [
        f"{_INDENT}<ResponseMetadata>",
        f"{_INDENT * 2}<RequestId>{request_id}</RequestId>",
        f"{_INDENT}</ResponseMetadata>",
    ]


def _document(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _element(tag: str, shape: Shape, value: Any, depth: int) -> Iterator[str]:
    """The lines of `<tag>` holding `value`; raises TypeError or ValueError for a value `shape` does not describe."""
    pad = _INDENT * depth
    if isinstance(shape, StructureShape):
        yield from _wrap(tag, list(_members(shape, value, depth + 1)), depth)
    elif isinstance(shape, ListShape):
        yield from _list(tag, shape, value, depth)
    elif isinstance(shape, MapShape):
        yield from _map(tag, shape, value, depth)
    else:
        yield f"{pad}<{tag}>{_xml_text(_text(shape, value))}</{tag}>"


def _members(shape: StructureShape, value: Any, depth: int) -> Iterator[str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not a structure for the shape {shape.name}")
    unknown = set(value) - set(shape.members)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not members of the shape {shape.name}")
    for name, member in shape.members.items():
        if value.get(name) is not None:
            yield from _element(member.serialization.get("name", name), member, value[name], depth)


def _list(tag: str, shape: ListShape, value: Any, depth: int) -> Iterator[str]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"{value!r} is not a list for the shape {shape.name}")
    member_tag = shape.member.serialization.get("name", "member")
    if shape.serialization.get("flattened"):
        for element in value:
            yield from _element(
                member_tag if "name" in shape.member.serialization else tag, shape.member, element, depth
            )
        return
    children = [line for element in value for line in _element(member_tag, shape.member, element, depth + 1)]
    yield from _wrap(tag, children, depth)


def _map(tag: str, shape: MapShape, value: Any, depth: int) -> Iterator[str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{value!r} is not a map for the shape {shape.name}")
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    flattened = bool(shape.serialization.get("flattened"))
    entry_tag, entry_depth = (tag, depth) if flattened else ("entry", depth + 1)
    entries: list[str] = []
    for key, item in value.items():
        children = [*_element(key_tag, shape.key, key, entry_depth + 1)]
        children += _element(value_tag, shape.value, item, entry_depth + 1)
        entries += _wrap(entry_tag, children, entry_depth)
    yield from entries if flattened else _wrap(tag, entries, depth)


def _wrap(tag: str, children: list[str], depth: int) -> list[str]:
    """`<tag>` around the lines of its children; `<tag/>` when it has none."""
    pad = _INDENT * depth
    return [f"{pad}<{tag}>", *children, f"{pad}</{tag}>"] if children else [f"{pad}<{tag}/>"]


def _xml_text(text: str) -> str:
    """`text` as XML character data: markup escaped, and each character XML 1.0 cannot hold (most control
    characters, which a request may carry into an echoed message) replaced by U+FFFD, so the document parses."""
    return _NOT_XML_CHARACTER.sub("\ufffd", escape(text))


def _text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind in ("float", "double") and isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value))
    if kind == "timestamp" and isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if kind == "string" and isinstance(value, str):
        return value
    raise TypeError(f"{value!r} is not a {kind} for the shape {shape.name}")
