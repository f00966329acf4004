"""Raw HTTP: requests no HTTP client library would send, written byte for byte to a socket.

A valid request (a /v2/ read with the registry token, or an AWS POST to /) has one part broken: the method (an
unknown token, lower case, control bytes, non-ASCII), the target (non-ASCII or control bytes, spaces, past the
line limit, absolute-form, `*`), the version, or the headers (past the line limit, too many, without a colon,
control or non-ASCII bytes, folded, bare LF line ends, Host doubled or missing, Content-Length not a number or
doubled, with Transfer-Encoding, a bad chunk). Each message is complete by its own framing, so a server that
waits for more has hung; the answer is read up to its Content-Length, never to the end of the connection.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping

from multidict import CIMultiDict

from testkit.fuzz.cases import Case, Door, Failure
from testkit.fuzz.oracle import verdict
from testkit.fuzz.world import World

MAX_ANSWER = 1 << 20  # bytes of an answer read at most
Parts = dict[str, object]  # method, target, version, eol, body: bytes; headers: list[bytes], each a whole line


def raw_case(rng: random.Random, world: World, seed: int, index: int) -> Case:
    parts = _valid(rng, world)
    name, mutation = rng.choice(MUTATIONS)
    mutation(rng, parts)
    raw = _render(parts)
    target = _bytes(parts, "target").decode("latin-1")
    method = _bytes(parts, "method").decode("latin-1")
    return Case(Door.RAW, index, seed, method, target, raw=raw, note=name)


def _valid(rng: random.Random, world: World) -> Parts:
    host = world.host.encode()
    if rng.random() < 0.6:
        repository = rng.choice(world.repositories)
        target = rng.choice(
            ("/v2/", f"/v2/{repository}/manifests/{world.tag}", f"/v2/{repository}/blobs/{world.blob_digests[0]}")
        )
        headers = [b"Host: " + host, b"Authorization: " + world.registry_authorization.encode()]
        return {"method": b"GET", "target": target.encode(), "version": b"HTTP/1.1", "headers": headers, "body": b""}
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers = [b"Host: " + host, b"Content-Type: application/x-www-form-urlencoded"]
    return {"method": b"POST", "target": b"/", "version": b"HTTP/1.1", "headers": headers, "body": body}


def _render(parts: Parts) -> bytes:
    """The request's bytes: Content-Length from the body unless a mutation wrote its own framing."""
    headers = _lines(parts)
    body = _bytes(parts, "body")
    names = {line.partition(b":")[0].strip().lower() for line in headers}
    if b"content-length" not in names and b"transfer-encoding" not in names and body:
        headers.append(b"Content-Length: " + str(len(body)).encode())
    if b"connection" not in names:
        headers.append(b"Connection: close")
    eol = _bytes(parts, "eol") if "eol" in parts else b"\r\n"
    request_line = b" ".join((_bytes(parts, "method"), _bytes(parts, "target"), _bytes(parts, "version")))
    return eol.join((request_line, *headers)) + eol + eol + body


def _bytes(parts: Parts, key: str) -> bytes:
    value = parts[key]
    assert isinstance(value, bytes)
    return value


def _lines(parts: Parts) -> list[bytes]:
    value = parts["headers"]
    assert isinstance(value, list)
    return list(value)


def _set(key: str, choices: tuple[bytes, ...]) -> Callable[[random.Random, Parts], None]:
    def mutate(rng: random.Random, parts: Parts) -> None:
        parts[key] = rng.choice(choices)

    return mutate


def _header(*choices: bytes) -> Callable[[random.Random, Parts], None]:
    def mutate(rng: random.Random, parts: Parts) -> None:
        parts["headers"] = [*_lines(parts), rng.choice(choices)]

    return mutate


def _many_headers(rng: random.Random, parts: Parts) -> None:
    count = rng.choice((120, 1000))
    parts["headers"] = [*_lines(parts), *(f"X-H{n}: v".encode() for n in range(count))]


def _without_host(rng: random.Random, parts: Parts) -> None:
    parts["headers"] = [line for line in _lines(parts) if not line.startswith(b"Host:")]


def _bare_lf(rng: random.Random, parts: Parts) -> None:
    parts["eol"] = b"\n"


def _short_length(rng: random.Random, parts: Parts) -> None:
    """Content-Length shorter than what follows: the rest reads as a second, garbage request."""
    body = _bytes(parts, "body") or b"xxxx"
    parts["body"] = body + b"GARBAGE / HTTP/1.1\r\n\r\n"
    parts["headers"] = [*_lines(parts), b"Content-Length: " + str(len(body)).encode()]


def _chunked(rng: random.Random, parts: Parts) -> None:
    body = _bytes(parts, "body")
    parts["body"] = rng.choice(
        (
            f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n",
            b"zz\r\n" + body + b"\r\n0\r\n\r\n",
            b"ffffffffffffffffffff\r\nab\r\n0\r\n\r\n",
            f"{len(body):x};".encode() + b"e" * 9000 + b"\r\n" + body + b"\r\n0\r\n\r\n",
            b"-1\r\n\r\n0\r\n\r\n",
        )
    )
    parts["headers"] = [*_lines(parts), b"Transfer-Encoding: chunked"]


Mutation = Callable[[random.Random, Parts], None]
MUTATIONS: tuple[tuple[str, Mutation], ...] = (
    ("unknown method", _set("method", (b"FOO", b"GETT", b"BREW", b"M" * 100, b"PRI"))),
    ("lower-case method", _set("method", (b"get", b"post", b"Get"))),
    ("method with bad bytes", _set("method", (b"GE\x00T", b"G\xc3\x89T", b"GE(T", b"\x16\x03\x01"))),
    ("non-ASCII target", _set("target", ("/v2/é".encode(), b"/v2/\xff", "/v2/名前/tags/list".encode(), "/é".encode()))),
    ("target with bad bytes", _set("target", (b"/v2/a\x00b", b"/v2/\x7f", b"/v2/a\tb", b"/v2/%", b"/v2/%zz"))),
    ("target past the line limit", _set("target", (b"/v2/" + b"a" * 9000, b"/?" + b"a=b&" * 3000))),
    ("unusual target form", _set("target", (b"*", b"http://127.0.0.1/v2/", b"v2/", b"//v2/", b""))),
    ("another version", _set("version", (b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"HTTP/9.9", b"HTTPS/1.1"))),
    ("header past the line limit", _header(b"X-Big: " + b"a" * 9000, b"X-Huge: " + b"a" * 100_000)),
    ("many headers", _many_headers),
    ("header without a colon", _header(b"NoColon", b"No Colon At All", b":", b": value")),
    ("header with bad bytes", _header(b"X-A: a\x00b", "X-B: é".encode(), b"X-C: \xff\xfe", b"X D: v", b"X-E\x01: v")),
    (
        "folded header",
        _header(
            b"X-Fold: a\r\n b",
        ),
    ),
    ("bare LF line ends", _bare_lf),
    ("no Host", _without_host),
    ("Host doubled or odd", _header(b"Host: other.example", b"Host:", b"Host: a b")),
    (
        "Content-Length not a number",
        _header(b"Content-Length: abc", b"Content-Length: -1", b"Content-Length: 1,1", b"Content-Length: 0x10"),
    ),
    ("Content-Length shorter than the body", _short_length),
    ("Content-Length with Transfer-Encoding", _header(b"Transfer-Encoding: chunked", b"Content-Length: 5")),
    ("Transfer-Encoding unknown", _header(b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked, gzip")),
    ("bad chunks", _chunked),
)


async def send_raw(host: str, case: Case, request_seconds: float) -> tuple[int | None, Failure | None]:
    """Write the case's bytes to a new connection and read one answer (after any 1xx)."""
    assert case.raw is not None
    address, _, port = host.rpartition(":")
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(request_seconds):
            reader, writer = await asyncio.open_connection(address, int(port))
            writer.write(case.raw)
            await writer.drain()
            status, headers, body = await _read_answer(reader)
    except TimeoutError:
        return None, Failure(case, f"no answer within {request_seconds} s (a hang)")
    except (ConnectionError, asyncio.IncompleteReadError, ValueError) as error:
        return None, Failure(case, f"the connection ended without an answer: {error!r}")
    finally:
        if writer is not None:
            writer.close()
    problem = verdict(case, status, headers, body)
    return status, None if problem is None else Failure(case, problem, status, body)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, Mapping[str, str], bytes]:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: CIMultiDict[str] = CIMultiDict()
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers.add(name.strip(), value.strip())
        if status >= 200:
            break
    length = headers.get("Content-Length")
    body = await reader.readexactly(int(length)) if length is not None else await reader.read(MAX_ANSWER)
    return status, headers, body
