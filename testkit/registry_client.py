"""A small typed OCI Distribution client for black-box protocol tests, and the documents those tests push.

Requests go over loopback to a real `pullcache serve`; each answer is read whole into a `Reply`, so a test asserts
on status, headers and bytes. The client sends only the headers a test names (no automatic Content-Type), never
follows redirects, and bounds every request with a timeout. Manifests are encoded indented, not canonically, so a
registry that re-serialised them would change their digests.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import pytest
from multidict import CIMultiDictProxy
from yarl import URL

from tests.servers import PullcacheServer

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"

API_VERSION_HEADER: Final = "Docker-Distribution-API-Version"
# The error codes the OCI distribution spec defines.
OCI_ERROR_CODES: Final = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)
REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=20)
_NEXT_LINK: Final = re.compile(r'^<([^>]+)>; rel="next"$')

Body = bytes | AsyncIterable[bytes] | None


def serve_pullcache(tmp_path_factory: pytest.TempPathFactory, *extra_args: str) -> Iterator[PullcacheServer]:
    """A running `pullcache serve` over a fresh data dir, stopped when the generator closes: a fixture body.

    Its /v2/ is open to callers without credentials: these tests are about the OCI protocol alone.
    """
    server = PullcacheServer(
        tmp_path_factory.mktemp("pullcache") / "data", extra_args=extra_args, anonymous_registry=True
    ).start()
    try:
        yield server
    finally:
        server.stop()


def fresh_name(area: str) -> str:
    """A repository name no other test uses, so tests can share one server."""
    return f"{area}/{uuid.uuid4().hex[:12]}"


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


@dataclass(frozen=True, slots=True, repr=False)
class Reply:
    """A whole HTTP answer."""

    method: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def __repr__(self) -> str:
        return f"Reply({self.method} -> {self.status}, headers={dict(self.headers)}, body={self.body[:300]!r})"

    def json(self) -> Any:
        return json.loads(self.body)

    def error_codes(self) -> list[str]:
        """The codes of an OCI error body; AssertionError when the body is not in the OCI error shape."""
        assert self.headers.get("Content-Type", "").startswith("application/json"), self
        document = self.json()
        assert isinstance(document, dict), self
        assert set(document) == {"errors"}, self
        errors = document["errors"]
        assert isinstance(errors, list), self
        assert errors, self
        for error in errors:
            assert isinstance(error, dict), self
            assert isinstance(error.get("code"), str), self
            assert isinstance(error.get("message"), str), self
            assert set(error) <= {"code", "message", "detail"}, self
        return [error["code"] for error in errors]


def assert_oci_error(reply: Reply, status: int, code: str) -> None:
    """`reply` has `status` and, unless it answers a HEAD (which has no body), exactly the OCI error `code`."""
    assert reply.status == status, reply
    if reply.method != "HEAD":
        assert reply.error_codes() == [code], reply


def next_link(reply: Reply) -> str | None:
    """The target of a `Link: <target>; rel="next"` header, or None when there is none."""
    link = reply.headers.get("Link")
    if link is None:
        return None
    match = _NEXT_LINK.match(link)
    assert match is not None, f"malformed Link header {link!r}"
    return match.group(1)


def chunk_range(start: int, data: bytes) -> str:
    """The `Content-Range` of an upload chunk of `data` starting at `start`: `start-end`, no unit."""
    return f"{start}-{start + len(data) - 1}"


@dataclass(frozen=True, slots=True)
class Content:
    """A blob or manifest: its bytes and media type, from which its descriptor follows."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


EMPTY_CONFIG: Final = Content(OCI_EMPTY, b"{}")


def random_layer(size: int = 512, media_type: str = OCI_LAYER) -> Content:
    return Content(media_type, os.urandom(size))


def unique_config(media_type: str = OCI_CONFIG) -> Content:
    """A config no other test has pushed."""
    document = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    return Content(media_type, encode({**document, "created": uuid.uuid4().hex}))


def encode(document: Mapping[str, Any]) -> bytes:
    """JSON as a client might write it: indented, with a trailing newline, not canonical."""
    return json.dumps(document, indent=3).encode() + b"\n"


def image_manifest(
    config: Content,
    layers: Sequence[Content],
    *,
    media_type: str = OCI_MANIFEST,
    artifact_type: str | None = None,
    subject: Content | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Content:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return Content(media_type, encode(_with_optionals(document, artifact_type, subject, annotations)))


def index_manifest(
    children: Sequence[Content],
    *,
    media_type: str = OCI_INDEX,
    artifact_type: str | None = None,
    subject: Content | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Content:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor(platform={"architecture": "amd64", "os": "linux"}) for child in children],
    }
    return Content(media_type, encode(_with_optionals(document, artifact_type, subject, annotations)))


def _with_optionals(
    document: dict[str, Any],
    artifact_type: str | None,
    subject: Content | None,
    annotations: Mapping[str, str] | None,
) -> dict[str, Any]:
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations is not None:
        document["annotations"] = dict(annotations)
    return document


class RegistryClient:
    """Raw OCI Distribution requests against one registry, plus the few push steps most tests need."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self._base = URL(base_url)
        self._session = session

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str) -> AsyncIterator[RegistryClient]:
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
            yield cls(base_url, session)

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        query: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send `method` to `target` (a path as written, or an absolute URL such as a Location) and read it all."""
        url = URL(target) if target.startswith("http") else self._base.join(URL(target, encoded=True))
        if query:
            url = url.update_query(query)
        async with self._session.request(
            method,
            url,
            headers=dict(headers or {}),
            data=io.BytesIO(body) if isinstance(body, bytes) else body,  # bytes past 1 MiB would warn
            allow_redirects=False,
            skip_auto_headers=("Content-Type",),
        ) as response:
            return Reply(method, response.status, response.headers, await response.read())

    async def push_blob(self, name: str, data: bytes, algorithm: str = "sha256") -> str:
        """Upload `data` in one monolithic POST and return its digest."""
        digest = digest_of(data, algorithm)
        reply = await self.request("POST", f"/v2/{name}/blobs/uploads/", body=data, query={"digest": digest})
        assert reply.status == 201, reply
        return digest

    async def push_all(self, name: str, contents: Sequence[Content]) -> None:
        for content in contents:
            await self.push_blob(name, content.data)

    async def start_upload(self, name: str) -> str:
        """Open an upload session and return its Location."""
        reply = await self.request("POST", f"/v2/{name}/blobs/uploads/")
        assert reply.status == 202, reply
        return reply.headers["Location"]

    async def patch_chunk(self, location: str, data: bytes, start: int) -> Reply:
        return await self.request("PATCH", location, headers={"Content-Range": chunk_range(start, data)}, body=data)

    async def put_manifest(self, name: str, reference: str, manifest: Content) -> Reply:
        return await self.request(
            "PUT",
            f"/v2/{name}/manifests/{reference}",
            headers={"Content-Type": manifest.media_type},
            body=manifest.data,
        )

    async def push_manifest(self, name: str, manifest: Content, reference: str | None = None) -> None:
        """PUT `manifest` under `reference` (default: its digest), expecting 201."""
        reply = await self.put_manifest(name, reference or manifest.digest, manifest)
        assert reply.status == 201, reply

    async def push_image(self, name: str, *, media_type: str = OCI_MANIFEST) -> Content:
        """Push a config and one layer of a fresh image into `name` and return its (unpushed) manifest."""
        docker = media_type == DOCKER_MANIFEST
        config = unique_config(DOCKER_CONFIG if docker else OCI_CONFIG)
        layer = random_layer(media_type=DOCKER_LAYER if docker else OCI_LAYER)
        await self.push_all(name, [config, layer])
        return image_manifest(config, [layer], media_type=media_type)
