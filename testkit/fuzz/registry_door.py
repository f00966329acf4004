"""The /v2/ door: every endpoint of the OCI Distribution API, valid requests first, then mutated.

A case picks an endpoint and fills it with what exists on the server (the fuzz repository, its tag, manifest and
blobs, an upload under way), then mutates each part with some probability: the repository name, the reference or
digest, the upload id, the query (`n`, `last`, `digest`, `mount`, `from`, `grant`, `artifactType`), the headers
(Range, Content-Range, Content-Type, Accept, If-None-Match, Host, X-Forwarded-For), the Authorization (none, bogus
Basic, Bearer, a token altered), the body (the manifest mutated as JSON, random bytes, sent chunked) and now and
then the method. About one case in six is left valid, so the deeper paths (an upload completed, a manifest
replaced) keep being taken.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from testkit.fuzz.cases import Case, Door
from testkit.fuzz.values import MAX_HEADER_TEXT, header_safe, hostile_string, mutate_json, nested_text, random_text
from testkit.fuzz.world import World

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPES = (
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_LIST,
    "application/json",
    "",
    "text/plain",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "a/b; charset=utf-8",
    "*/*",
)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND")
LARGE_BODY = 5 * 1024 * 1024  # past the default manifest limit


@dataclass
class Request:
    """A /v2/ request taking shape: its parts stay separate until the case is built, so each can be mutated."""

    method: str
    route: str  # e.g. "manifests"; "base", "catalog", "tags", "blobs", "uploads", "upload", "referrers"
    name: str = ""
    reference: str = ""
    upload: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunked: bool = False
    raw_name: bool = False  # the name is already percent-encoded (or deliberately not)
    authorization: str | None = None  # the header's value; None sends none
    notes: list[str] = field(default_factory=list)

    def target(self) -> str:
        name = self.name if self.raw_name else quote(self.name, safe="/")
        reference = quote(self.reference, safe=":")
        paths = {
            "base": "/v2/",
            "catalog": "/v2/_catalog",
            "tags": f"/v2/{name}/tags/list",
            "manifests": f"/v2/{name}/manifests/{reference}",
            "blobs": f"/v2/{name}/blobs/{reference}",
            "uploads": f"/v2/{name}/blobs/uploads/",
            "upload": f"/v2/{name}/blobs/uploads/{quote(self.upload, safe='')}",
            "referrers": f"/v2/{name}/referrers/{reference}",
        }
        path = paths[self.route]
        return path + ("?" + urlencode(self.query, quote_via=quote) if self.query else "")


def registry_case(rng: random.Random, world: World, seed: int, index: int) -> Case:
    request = _valid(rng, world)
    request.authorization = world.registry_authorization
    for probability, mutation in MUTATIONS:
        if rng.random() < probability:
            mutation(rng, world, request)
    headers = dict(request.headers)
    if request.authorization is not None:
        headers["Authorization"] = request.authorization
    note = f"{request.method} {request.route}" + (": " + "; ".join(request.notes) if request.notes else "")
    # A request line past the parser's limit is the raw door's case; cut here (a cut escape is a case too).
    target = request.target()[:MAX_HEADER_TEXT]
    return Case(
        Door.REGISTRY,
        index,
        seed,
        request.method,
        target,
        headers,
        request.body,
        chunked=request.chunked,
        note=note,
    )


def _valid(rng: random.Random, world: World) -> Request:
    """A request that would succeed (or fail only for the server's state), at a random endpoint."""
    name = rng.choice(world.repositories)
    route = rng.choice(
        (
            "base",
            "catalog",
            "tags",
            "manifests",
            "manifests",
            "manifests",
            "blobs",
            "blobs",
            "uploads",
            "upload",
            "upload",
            "upload",
            "referrers",
        )
    )
    digest = rng.choice(world.blob_digests)
    if route == "base":
        return Request(rng.choice(("GET", "HEAD")), route)
    if route == "catalog":
        return Request("GET", route, query=[("n", str(rng.randrange(1, 5)))] if rng.random() < 0.5 else [])
    if route == "tags":
        return Request(rng.choice(("GET", "HEAD")), route, name)
    if route == "referrers":
        return Request("GET", route, name, world.manifest_digest)
    if route == "manifests":
        method = rng.choice(("GET", "GET", "HEAD", "PUT", "PUT", "DELETE"))
        reference = rng.choice((world.tag, world.manifest_digest, f"fuzz-{rng.randrange(10)}"))
        if method == "PUT":
            if reference == world.manifest_digest or rng.random() < 0.5:
                reference = world.tag if reference == world.manifest_digest else reference
            headers = {"Content-Type": world.manifest_media_type}
            return Request(method, route, name, reference, headers=headers, body=world.manifest)
        if method == "DELETE":
            reference = f"fuzz-{rng.randrange(10)}"  # a tag the fuzz pushed, never the image itself
        headers = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"} if rng.random() < 0.7 else {}
        return Request(method, route, name, reference, headers=headers)
    if route == "blobs":
        method = rng.choice(("GET", "GET", "HEAD", "HEAD", "DELETE"))
        headers = {"Range": f"bytes=0-{rng.randrange(0, 100)}"} if method == "GET" and rng.random() < 0.3 else {}
        reference = digest if method != "DELETE" else "sha256:" + hashlib.sha256(rng.randbytes(8)).hexdigest()
        return Request(method, route, name, reference, headers=headers)
    if route == "uploads":
        data = rng.randbytes(rng.randrange(0, 64))
        if rng.random() < 0.5:
            query = [("digest", "sha256:" + hashlib.sha256(data).hexdigest())]
            return Request(
                "POST", route, name, query=query, body=data, headers={"Content-Type": "application/octet-stream"}
            )
        if rng.random() < 0.3:
            return Request("POST", route, name, query=[("mount", digest), ("from", world.repositories[0])])
        return Request("POST", route, name)
    upload_path = rng.choice(world.upload_paths)
    upload_name, _, upload = upload_path.removeprefix("/v2/").partition("/blobs/uploads/")
    method = rng.choice(("PATCH", "PATCH", "PUT", "GET", "DELETE"))
    request = Request(method, "upload", upload_name, upload=upload, raw_name=True)
    if method == "PATCH":
        data = rng.randbytes(rng.randrange(1, 64))
        request.body = data
        request.headers = {"Content-Type": "application/octet-stream", "Content-Range": f"0-{len(data) - 1}"}
    elif method == "PUT":
        data = rng.randbytes(rng.randrange(0, 32))
        request.body = data
        request.query = [("digest", "sha256:" + hashlib.sha256(data).hexdigest())]
    return request


# -- mutations, each of one part of the request ------------------------------------------------------------


def _mutate_name(rng: random.Random, world: World, request: Request) -> None:
    if request.route in ("base", "catalog"):
        return
    name = rng.choice(
        (
            "UPPER/case",
            "a" * 256,
            "/".join(["a"] * 100),
            "a//b",
            "..",
            "a/../b",
            "_catalog",
            "",
            "-a",
            "a-",
            "a__b",
            "a/manifests/b",
            "v2",
            random_text(rng, rng.randrange(1, 10)),
            f"{world.repositories[0]}/{random_text(rng, 4)}",
            hostile_string(rng),
        )
    )
    request.name, request.raw_name = name, False
    request.notes.append(f"name {name[:40]!r}")
    if rng.random() < 0.15:
        request.name = rng.choice(("a%2Fb", "a%zz", "a%", "%2e%2e", "a%00b", "a%20b"))
        request.raw_name = True
        request.notes.append(f"raw name {request.name!r}")


def _mutate_reference(rng: random.Random, world: World, request: Request) -> None:
    if request.route == "upload":
        request.upload = rng.choice(
            (
                "",
                "x",
                "00000000-0000-0000-0000-000000000000",
                request.upload.upper(),
                request.upload + "x",
                hostile_string(rng),
                "../" + request.upload,
            )
        )
        request.notes.append(f"upload id {request.upload[:40]!r}")
        return
    if request.route not in ("manifests", "blobs", "referrers"):
        return
    hexes = world.manifest_digest.partition(":")[2]
    reference = rng.choice(
        (
            "sha256:" + hexes[:-1],
            "sha256:" + hexes.upper(),
            "sha256:" + "g" * 64,
            "sha512:" + hexes,
            "sha384:" + "0" * 96,
            "SHA256:" + hexes,
            "sha256+b64:" + hexes,
            "sha256:",
            ":",
            "sha256",
            "a" * 129,
            ".a",
            "-a",
            "a:b",
            "latest",
            "sha256:" + hexes + "0",
            hostile_string(rng),
        )
    )
    request.reference = reference
    request.notes.append(f"reference {reference[:40]!r}")


def _mutate_query(rng: random.Random, world: World, request: Request) -> None:
    key = rng.choice(("n", "last", "digest", "mount", "from", "grant", "artifactType", "unknown", "n"))
    value = rng.choice(
        (
            "-1",
            "0",
            "abc",
            "1e3",
            "99999999999999999999",
            "",
            "1.5",
            "²",
            "①",
            "\u0661",
            world.manifest_digest,
            "sha256:zz",
            world.repositories[0],
            hostile_string(rng),
        )
    )
    request.query.append((key, value))
    if rng.random() < 0.2:
        request.query.append((key, rng.choice(("1", "", world.blob_digests[0]))))
    request.notes.append(f"query {key}={value[:40]!r}")


def _mutate_headers(rng: random.Random, world: World, request: Request) -> None:
    name, values = rng.choice(
        (
            (
                "Range",
                (
                    "bytes=0-0",
                    "bytes=5-1",
                    "bytes=-5",
                    "bytes=0-",
                    "bytes=99999999999999999999-",
                    "bytes=0-1,2-3",
                    "bytes=a-b",
                    "items=0-1",
                    "bytes=",
                    "bytes=-0",
                    "bytes=-",
                    "0-10",
                    "bytes=²-³",
                    "bytes=1-99999999999999999999999",
                ),
            ),
            (
                "Content-Range",
                (
                    "0-0",
                    "5-10",
                    "0-99999999999999999999",
                    "a-b",
                    "bytes 0-10/11",
                    "-1-5",
                    "10-5",
                    "",
                    "0-",
                    "-",
                    "1-1",
                    "²-³",
                    "0-18446744073709551616",
                ),
            ),
            ("Content-Type", MEDIA_TYPES),
            ("Accept", (*MEDIA_TYPES, f"{OCI_MANIFEST};q=0.5, {DOCKER_MANIFEST};q=x", ",,,", "a" * 4000)),
            ("If-None-Match", ('"' + world.manifest_digest + '"', "*", "", '"x", W/"y"')),
            (
                "Host",
                (
                    "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                    "000000000000.dkr.ecr.us-east-1.amazonaws.com",
                    "x.dkr.ecr..amazonaws.com",
                    "localhost:99999",
                    "[::1]",
                    "",
                    "a" * 300,
                ),
            ),
            ("X-Forwarded-For", ("1.2.3.4", "junk", "", "::1, 10.0.0.1", "999.999.999.999")),
        )
    )
    value = rng.choice((*values, header_safe(hostile_string(rng))))
    request.headers[name] = value
    request.notes.append(f"{name}: {value[:40]!r}")


def _mutate_authorization(rng: random.Random, world: World, request: Request) -> None:
    token = world.registry_authorization.removeprefix("Basic ")
    options = (
        None,
        "",
        "Basic",
        "Basic ",
        "Basic !!!",
        "Basic " + base64.b64encode(b"AWS:junk").decode(),
        "Basic " + base64.b64encode(b"user:pass").decode(),
        "Basic " + base64.b64encode(b"AWS:").decode(),
        "Basic " + base64.b64encode(b"AWS").decode(),
        "Basic " + base64.b64encode(b"AWS:\xff\xfe").decode(),
        "Basic " + token[:-4],
        "Basic " + token[:-6] + ("AAAA" if not token[:-6].endswith("AAAA") else "BBBB") + token[-2:],
        "Bearer x",
        "Bearer " + token,
        'Digest username="a"',
        "Basic " + "A" * 6000,
        "basic " + token,
        header_safe(hostile_string(rng)),
    )
    value = rng.choice(options)
    request.authorization = value
    request.notes.append(f"Authorization {value[:40]!r}" if value is not None else "anonymous")


def _mutate_body(rng: random.Random, world: World, request: Request) -> None:
    if request.method == "GET" and rng.random() < 0.7:
        return
    choice = rng.randrange(8)
    if choice <= 2:
        document, note = mutate_json(rng, json.loads(world.manifest))
        request.body = json.dumps(document).encode()
    elif choice == 3:
        request.body = rng.randbytes(rng.randrange(1, 2048))
        note = "random bytes"
    elif choice == 4:
        request.body = b""
        note = "empty body"
    elif choice == 5:
        request.body = rng.choice((b"null", b"[]", b"{}", b'"x"', b"\xff\xfe", b"{", nested_text("[", 5000)))
        note = f"body {request.body[:20]!r}"
    elif choice == 6:
        request.body = json.dumps(_index(world, rng)).encode()
        note = "an index"
    else:
        request.body = world.manifest + b" " * (LARGE_BODY if rng.random() < 0.1 else rng.randrange(1, 100))
        note = f"manifest padded to {len(request.body)} bytes"
    request.notes.append(note)


def _index(world: World, rng: random.Random) -> dict[str, object]:
    manifests = [
        {
            "mediaType": world.manifest_media_type,
            "digest": rng.choice((world.manifest_digest, *world.blob_digests)),
            "size": rng.choice((len(world.manifest), -1, 0, 2**70)),
            "platform": {"os": "linux", "architecture": "x"},
        }
    ]
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests * rng.choice((1, 2, 500))}


def _mutate_method(rng: random.Random, world: World, request: Request) -> None:
    request.method = rng.choice(METHODS)
    request.notes.append(f"method {request.method}")


def _send_chunked(rng: random.Random, world: World, request: Request) -> None:
    if request.method not in ("GET", "HEAD"):
        request.chunked = True
        request.notes.append("chunked")


Mutation = Callable[[random.Random, World, Request], None]
MUTATIONS: tuple[tuple[float, Mutation], ...] = (
    (0.15, _mutate_name),
    (0.2, _mutate_reference),
    (0.2, _mutate_query),
    (0.3, _mutate_headers),
    (0.1, _mutate_authorization),
    (0.25, _mutate_body),
    (0.05, _mutate_method),
    (0.1, _send_chunked),
)
