"""The answers to requests aiohttp's HTTP parser rejects: each fed to the real parser, its error classified and
answered in the shape of the API the request was for."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import HttpRequestParser

from pullcache.http_server import HEAD_BYTES
from pullcache.unreadable_requests import answer, is_registry_request, rejection_for

LIMIT = 8190  # aiohttp's default limits of a line and of a header, which the server keeps


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def parser_error(loop: asyncio.AbstractEventLoop, raw: bytes) -> HttpProcessingError:
    parser = HttpRequestParser(None, loop, 2**16, max_line_size=LIMIT, max_field_size=LIMIT, max_headers=128)
    with pytest.raises(HttpProcessingError) as caught:
        parser.feed_data(raw)
    return caught.value


REJECTED = [
    # (request, status, cause)
    (b"FOO /v2/ HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method"),
    ("GET /v2/é/manifests/latest HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400, "url"),
    (b"GET /v2/\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "url"),
    (b"GET /v2/" + b"a" * 10_240 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "url too long"),
    (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_240 + b"\r\n\r\n", 431, "header too large"),
    (b"GET /v2/ HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(200)) + b"\r\n", 431, "too many headers"),
    (b"GET /v2/ HTTP/1.1\r\nBad Header: y\r\n\r\n", 400, "header"),
    (b"GET /v2/ HTTP/9.9\r\nHost: x\r\n\r\n", 400, "request line"),
    (b"\x00\x01garbage\r\n\r\n", 400, "request line"),
    (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "body framing"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "tls"),
]


@pytest.mark.parametrize(("raw", "status", "cause"), REJECTED)
def test_each_rejection_has_its_status_and_cause(
    loop: asyncio.AbstractEventLoop, raw: bytes, status: int, cause: str
) -> None:
    rejection = rejection_for(parser_error(loop, raw), raw[:HEAD_BYTES])

    assert (rejection.http_status, rejection.cause) == (status, cause)
    assert rejection.http_status < 500


@pytest.mark.parametrize(("raw", "status", "cause"), [case for case in REJECTED if b"/v2/" in case[0][:40]])
def test_a_registry_request_is_answered_with_the_oci_error_document(
    loop: asyncio.AbstractEventLoop, raw: bytes, status: int, cause: str
) -> None:
    head = raw[:HEAD_BYTES]
    response = answer(rejection_for(parser_error(loop, raw), head), head)

    assert response.status == status
    assert response.content_type == "application/json"
    assert response.headers["Connection"] == "close"
    assert response.body is not None
    [error] = json.loads(bytes(response.body))["errors"]  # type: ignore[arg-type]
    assert error["code"] == "UNSUPPORTED"
    assert error["message"]
    assert error["detail"]["cause"] == cause


@pytest.mark.parametrize(
    "raw",
    [
        b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nX-Big: " + b"a" * 10_240 + b"\r\n\r\n",
        b"hello world\r\n\r\n",
    ],
)
def test_any_other_request_is_answered_with_the_aws_json_error_shape(
    loop: asyncio.AbstractEventLoop, raw: bytes
) -> None:
    head = raw[:HEAD_BYTES]
    response = answer(rejection_for(parser_error(loop, raw), head), head)

    assert response.content_type == "application/json"
    assert response.body is not None
    document = json.loads(bytes(response.body))  # type: ignore[arg-type]
    assert set(document) == {"__type", "message"}
    assert document["__type"].endswith("Exception")


def test_an_unknown_method_is_told_the_methods_served(loop: asyncio.AbstractEventLoop) -> None:
    raw = b"BREW /v2/ HTTP/1.1\r\nHost: x\r\n\r\n"
    response = answer(rejection_for(parser_error(loop, raw), raw), raw)

    assert response.status == 405
    assert "GET" in response.headers["Allow"]


def test_the_limit_passed_is_in_the_detail(loop: asyncio.AbstractEventLoop) -> None:
    raw = b"GET /v2/ HTTP/1.1\r\nX-Big: " + b"a" * 10_240 + b"\r\n\r\n"
    rejection = rejection_for(parser_error(loop, raw), raw[:HEAD_BYTES])

    assert rejection.limit == LIMIT


@pytest.mark.parametrize(
    ("head", "registry"),
    [
        (b"GET /v2/ HTTP/1.1\r\n", True),
        (b"GET /v2 HTTP/1.1\r\n", True),
        (b"GET http://registry.example/v2/x/manifests/1 HTTP/1.1\r\n", True),
        (b"POST / HTTP/1.1\r\n", False),
        (b"GET http://registry.example HTTP/1.1\r\n", False),
        (b"", False),
        (b"\x16\x03\x01", False),
    ],
)
def test_which_requests_are_the_registrys(head: bytes, registry: bool) -> None:
    assert is_registry_request(head) is registry
