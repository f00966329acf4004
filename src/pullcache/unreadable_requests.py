"""Answers to the requests aiohttp's HTTP parser rejects, in the shape of the API they were for.

Such a request never reaches a route, the registry's middlewares or the AWS gateway: aiohttp answers it itself,
in plain text. Here the request's first bytes (its head, kept by the connection: the parser's error says which rule
broke, not what was asked) tell which API it was for: a target under /v2 gets the OCI error document, anything else
(the AWS APIs live at /) the AWS JSON error shape, `{"__type": ..., "message": ...}`, which any AWS client reads
(a Query caller expecting XML still gets the status). Never a 5xx: the fault is the request's.

    unknown method               405 (Allow lists the methods served)
    a URL with a byte outside ASCII, or not a URL    400
    request line over aiohttp's limit (8,190 bytes)  414
    a header over it, or more than 128 headers       431
    TLS on this plain HTTP port, a malformed request line, header or body framing   400
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, BadStatusLine, HttpProcessingError, InvalidURLError, LineTooLong

from pullcache.registry.api.errors import render

ALLOWED_METHODS = "DELETE, GET, HEAD, PATCH, POST, PUT"  # /v2/ and the AWS APIs at /
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TLS_RECORD = b"\x16\x03"
OCI_CODE = "UNSUPPORTED"  # the registry's code for what it does not serve (registry/api/routes.py)


@dataclass(frozen=True, slots=True)
class Rejection:
    cause: str  # short and stable: what the logs count repeats by
    http_status: int
    aws_error_code: str
    message: str
    limit: int | None = None  # the limit a request went past


def rejection_for(error: HttpProcessingError, head: bytes) -> Rejection:
    """Why the parser rejected a request whose first bytes are `head`."""
    line = _request_line(head)
    if isinstance(error, BadHttpMethod):
        if head.startswith(_TLS_RECORD):
            return Rejection("tls", 400, "BadRequestException", "TLS (https) sent to a plain HTTP port")
        parts = line.split(b" ")
        if len(parts) == 3 and _TOKEN.fullmatch(parts[0]) and parts[2].startswith(b"HTTP/"):
            method = parts[0].decode("ascii")
            return Rejection("method", 405, "MethodNotAllowedException", f"unknown method {method}")
        return Rejection("request line", 400, "BadRequestException", "the request line is not HTTP")
    if isinstance(error, BadStatusLine):
        return Rejection("request line", 400, "BadRequestException", "the request line is not HTTP/1.x")
    if isinstance(error, InvalidURLError):
        return Rejection("url", 400, "BadRequestException", "the request target is not a URL of ASCII characters")
    if isinstance(error, LineTooLong):
        limit = _limit_of(error)
        if _target_starts_with(line, bytes(error.args[0]).removesuffix(b"...")):
            return Rejection("url too long", 414, "UriTooLongException", "the request line is too long", limit)
        return Rejection(
            "header too large", 431, "RequestHeaderFieldsTooLargeException", "a request header is too large", limit
        )
    text = error.message.lower()
    if "too many headers" in text:
        return Rejection("too many headers", 431, "RequestHeaderFieldsTooLargeException", "too many request headers")
    if any(word in text for word in ("content-length", "transfer-encoding", "chunk")):
        return Rejection("body framing", 400, "BadRequestException", "the request body's framing is malformed")
    if "header" in text:
        return Rejection("header", 400, "BadRequestException", "a request header is malformed")
    return Rejection("malformed", 400, "BadRequestException", "the request is not HTTP/1.x")


def answer(rejection: Rejection, head: bytes) -> web.Response:
    """The response for a rejected request: the OCI error document under /v2, the AWS JSON error elsewhere. The
    connection closes after it (what follows a request the parser lost track of cannot be read)."""
    detail: dict[str, object] = {"cause": rejection.cause}
    if rejection.limit is not None:
        detail["limit"] = rejection.limit
    if is_registry_request(head):
        response = render(rejection.http_status, OCI_CODE, rejection.message, detail)
    else:
        document = {"__type": rejection.aws_error_code, "message": rejection.message}
        response = web.Response(
            status=rejection.http_status, body=json.dumps(document).encode(), content_type="application/json"
        )
    if rejection.http_status == 405:
        response.headers["Allow"] = ALLOWED_METHODS
    response.headers["Connection"] = "close"
    response.force_close()
    return response


def is_registry_request(head: bytes) -> bool:
    """Whether the request line in `head` targets /v2 (the registry's middlewares draw the same line)."""
    parts = _request_line(head).split(b" ")
    if len(parts) < 2:
        return False
    target = parts[1]
    if target.startswith((b"http://", b"https://")):  # the absolute form a proxy sends
        target = b"/" + target.split(b"/", 3)[-1] if target.count(b"/") >= 3 else b"/"
    return target.startswith(b"/v2")


def _request_line(head: bytes) -> bytes:
    return head.split(b"\n", 1)[0].removesuffix(b"\r")


def _target_starts_with(line: bytes, prefix: bytes) -> bool:
    """Whether the too-long line aiohttp quotes (its first 100 bytes) is the request target, not a header."""
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not prefix:
        return False
    target = parts[1]
    shorter = min(len(target), len(prefix))
    return shorter > 0 and target[:shorter] == prefix[:shorter]


def _limit_of(error: LineTooLong) -> int | None:
    limit = error.args[1] if len(error.args) > 1 else None
    return limit if isinstance(limit, int) else None
