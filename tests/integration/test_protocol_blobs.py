"""Blob HEAD, GET and DELETE over HTTP: headers, ranges, conditional requests and every refusal."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest

from pullcache.core.digests import Digest
from testkit.registry_client import RegistryClient
from testkit.servers import PullcacheServer
from tests.integration.oci_protocol import assert_oci_error, fresh_name, serve_pullcache

BLOB_SIZE = 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    yield from serve_pullcache(tmp_path_factory)


@pytest.fixture
async def registry(server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(server.url) as client:
        yield client


@dataclass(frozen=True, slots=True)
class PushedBlob:
    name: str
    digest: str
    data: bytes

    @property
    def path(self) -> str:
        return f"/v2/{self.name}/blobs/{self.digest}"


async def push_random_blob(registry: RegistryClient, size: int = BLOB_SIZE, algorithm: str = "sha256") -> PushedBlob:
    name = fresh_name("blobs")
    data = os.urandom(size)
    await registry.push_blob(name, data, algorithm=algorithm)
    return PushedBlob(name, str(Digest.of(data, algorithm)), data)


@pytest.mark.parametrize("size", [0, 1, BLOB_SIZE, 3 * 1024 * 1024])
async def test_blob_get_serves_the_bytes_with_digest_etag_length_and_ranges(
    registry: RegistryClient, size: int
) -> None:
    blob = await push_random_blob(registry, size)

    reply = await registry.request("GET", blob.path)

    assert reply.status == 200, reply
    assert reply.body == blob.data
    assert reply.headers["Docker-Content-Digest"] == blob.digest
    assert reply.headers["ETag"] == f'"{blob.digest}"'
    assert reply.headers["Content-Length"] == str(size)
    assert reply.headers["Accept-Ranges"] == "bytes"


async def test_blob_head_describes_the_blob_without_a_body(registry: RegistryClient) -> None:
    blob = await push_random_blob(registry)

    reply = await registry.request("HEAD", blob.path)

    assert reply.status == 200, reply
    assert reply.body == b""
    assert reply.headers["Docker-Content-Digest"] == blob.digest
    assert reply.headers["ETag"] == f'"{blob.digest}"'
    assert reply.headers["Content-Length"] == str(BLOB_SIZE)
    assert reply.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        pytest.param("bytes=2-5", 2, 5, id="closed"),
        pytest.param("bytes=0-0", 0, 0, id="first-byte"),
        pytest.param(f"bytes={BLOB_SIZE - 1}-{BLOB_SIZE - 1}", BLOB_SIZE - 1, BLOB_SIZE - 1, id="last-byte"),
        pytest.param("bytes=990-", 990, BLOB_SIZE - 1, id="open-ended"),
        pytest.param("bytes=-7", BLOB_SIZE - 7, BLOB_SIZE - 1, id="suffix"),
        pytest.param(f"bytes=-{BLOB_SIZE * 2}", 0, BLOB_SIZE - 1, id="suffix-longer-than-blob"),
        pytest.param(f"bytes=500-{BLOB_SIZE * 2}", 500, BLOB_SIZE - 1, id="end-past-blob-is-clipped"),
    ],
)
async def test_blob_range_is_answered_with_206_and_content_range(
    registry: RegistryClient, range_header: str, first: int, last: int
) -> None:
    blob = await push_random_blob(registry)

    reply = await registry.request("GET", blob.path, headers={"Range": range_header})

    assert reply.status == 206, reply
    assert reply.body == blob.data[first : last + 1]
    assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{BLOB_SIZE}"
    assert reply.headers["Content-Length"] == str(last - first + 1)
    assert reply.headers["Docker-Content-Digest"] == blob.digest


@pytest.mark.parametrize(
    "range_header",
    [
        pytest.param(f"bytes={BLOB_SIZE}-", id="starts-at-end"),
        pytest.param(f"bytes={BLOB_SIZE + 10}-{BLOB_SIZE + 20}", id="wholly-past-end"),
        pytest.param("bytes=-0", id="empty-suffix"),
    ],
)
async def test_unsatisfiable_range_is_refused_with_416(registry: RegistryClient, range_header: str) -> None:
    blob = await push_random_blob(registry)

    reply = await registry.request("GET", blob.path, headers={"Range": range_header})

    assert reply.status == 416, reply
    assert reply.headers["Content-Range"] == f"bytes */{BLOB_SIZE}"


async def test_if_none_match_with_the_blob_etag_answers_304_without_a_body(registry: RegistryClient) -> None:
    blob = await push_random_blob(registry)

    reply = await registry.request("GET", blob.path, headers={"If-None-Match": f'"{blob.digest}"'})

    assert reply.status == 304, reply
    assert reply.body == b""
    assert reply.headers["ETag"] == f'"{blob.digest}"'


async def test_if_none_match_with_another_etag_serves_the_blob(registry: RegistryClient) -> None:
    blob = await push_random_blob(registry)
    other = str(Digest.of(b"other content"))

    reply = await registry.request("GET", blob.path, headers={"If-None-Match": f'"{other}"'})

    assert reply.status == 200, reply
    assert reply.body == blob.data


async def test_sha512_blob_is_stored_served_ranged_and_deleted_under_its_digest(registry: RegistryClient) -> None:
    blob = await push_random_blob(registry, algorithm="sha512")
    assert blob.digest == str(Digest.of(blob.data, "sha512"))

    head = await registry.request("HEAD", blob.path)
    whole = await registry.request("GET", blob.path)
    part = await registry.request("GET", blob.path, headers={"Range": "bytes=10-19"})
    deleted = await registry.request("DELETE", blob.path)
    gone = await registry.request("GET", blob.path)

    assert head.status == 200, head
    assert head.headers["Docker-Content-Digest"] == blob.digest
    assert whole.body == blob.data
    assert whole.headers["ETag"] == f'"{blob.digest}"'
    assert part.status == 206, part
    assert part.body == blob.data[10:20]
    assert deleted.status == 202, deleted
    assert_oci_error(gone, 404, "BLOB_UNKNOWN")


async def test_deleted_blob_is_unknown_to_every_later_request(registry: RegistryClient) -> None:
    blob = await push_random_blob(registry)

    deleted = await registry.request("DELETE", blob.path)

    assert deleted.status == 202, deleted
    for method in ("HEAD", "GET", "DELETE"):
        assert_oci_error(await registry.request(method, blob.path), 404, "BLOB_UNKNOWN")


# A fault turns the pushed blob into the (repository, digest) a request names instead of it.
Fault = Callable[[PushedBlob], tuple[str, str]]
SHA256_HEX = "a" * 64


def _same_name(digest: str) -> Fault:
    return lambda blob: (blob.name, digest)


def _same_digest(name: str) -> Fault:
    return lambda blob: (name, blob.digest)


BLOB_FAULTS = [
    pytest.param(_same_name(f"sha256:{SHA256_HEX}"), 404, "BLOB_UNKNOWN", id="digest-unknown"),
    # No repository of that name: ECR's NAME_UNKNOWN (a blob another existing repository lacks is BLOB_UNKNOWN).
    pytest.param(lambda blob: (f"{blob.name}-other", blob.digest), 404, "NAME_UNKNOWN", id="blob-of-missing-repo"),
    pytest.param(_same_name("sha256:abc"), 400, "DIGEST_INVALID", id="digest-too-short"),
    pytest.param(_same_name(f"sha256:{SHA256_HEX.upper()}"), 400, "DIGEST_INVALID", id="digest-uppercase-hex"),
    pytest.param(_same_name(f"sha256:{'g' * 64}"), 400, "DIGEST_INVALID", id="digest-not-hex"),
    pytest.param(_same_name(SHA256_HEX), 400, "DIGEST_INVALID", id="digest-without-algorithm"),
    pytest.param(_same_name(f"md5:{'a' * 32}"), 400, "DIGEST_INVALID", id="algorithm-md5-unsupported"),
    pytest.param(_same_name(f"sha384:{'a' * 96}"), 400, "DIGEST_INVALID", id="algorithm-sha384-unsupported"),
    pytest.param(_same_name(f"sha512:{SHA256_HEX}"), 400, "DIGEST_INVALID", id="sha512-with-sha256-length"),
    pytest.param(_same_digest("Upper/case"), 400, "NAME_INVALID", id="name-uppercase"),
    pytest.param(_same_digest("-leading/dash"), 400, "NAME_INVALID", id="name-leading-dash"),
    pytest.param(_same_digest("double..dot"), 400, "NAME_INVALID", id="name-double-dot"),
    pytest.param(_same_digest("a" * 257), 400, "NAME_INVALID", id="name-too-long"),  # past ECR's 256
]


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
@pytest.mark.parametrize(("fault", "status", "code"), BLOB_FAULTS)
async def test_blob_request_fault_is_refused_with_oci_error_and_leaves_the_blob(
    registry: RegistryClient, method: str, fault: Fault, status: int, code: str
) -> None:
    blob = await push_random_blob(registry)
    name, digest = fault(blob)

    reply = await registry.request(method, f"/v2/{name}/blobs/{digest}")

    assert_oci_error(reply, status, code)
    still_there = await registry.request("GET", blob.path)
    assert still_there.status == 200, still_there
    assert still_there.body == blob.data


async def test_deleting_a_blob_from_one_repository_leaves_it_in_another(registry: RegistryClient) -> None:
    blob = await push_random_blob(registry)
    other = fresh_name("blobs")
    await registry.push_blob(other, blob.data)

    deleted = await registry.request("DELETE", blob.path)

    assert deleted.status == 202, deleted
    assert_oci_error(await registry.request("GET", blob.path), 404, "BLOB_UNKNOWN")
    kept = await registry.request("GET", f"/v2/{other}/blobs/{blob.digest}")
    assert kept.status == 200, kept
    assert kept.body == blob.data
