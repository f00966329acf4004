"""Blob uploads over HTTP: monolithic, POST+PUT, chunked and streamed; status, cancel, mount; every refusal."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from pullcache.core.digests import Digest
from testkit.registry_client import RegistryClient, chunk_range
from testkit.reply import Reply
from testkit.servers import PullcacheServer
from tests.integration.oci_protocol import assert_oci_error, fresh_name, serve_pullcache

ALGORITHMS = ["sha256", "sha512"]
HALF = 10  # bytes staged by `open_upload`; the blob is twice as long


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    yield from serve_pullcache(tmp_path_factory)


@pytest.fixture
async def registry(server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(server.url) as client:
        yield client


@dataclass(frozen=True, slots=True)
class OpenUpload:
    """A session in `name` that holds the first HALF bytes of `data`."""

    name: str
    location: str
    data: bytes

    @property
    def rest(self) -> bytes:
        return self.data[HALF:]


async def open_upload(registry: RegistryClient) -> OpenUpload:
    name = fresh_name("uploads")
    data = os.urandom(2 * HALF)
    location = await registry.start_upload(name)
    reply = await registry.patch_chunk(location, data[:HALF], 0)
    assert reply.status == 202, reply
    return OpenUpload(name, location, data)


def upload_id_of(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[-1]


def assert_upload_session(reply: Reply, name: str, status: int = 202) -> None:
    """`reply` answers an upload session in `name`: `status`, a UUID, and the Location to send the chunks to."""
    assert reply.status == status, reply
    upload_id = reply.headers["Docker-Upload-UUID"]
    assert str(uuid.UUID(upload_id)) == upload_id
    assert reply.headers["Location"] == f"/v2/{name}/blobs/uploads/{upload_id}"


def assert_upload_progress(reply: Reply, status: int, name: str, size: int) -> None:
    """`reply` answers a live upload in `name` holding `size` bytes, as the spec's headers say it."""
    assert_upload_session(reply, name, status)
    assert reply.headers["Range"] == f"0-{size - 1}"


async def assert_blob_holds(registry: RegistryClient, name: str, digest: str, data: bytes) -> None:
    reply = await registry.request("GET", f"/v2/{name}/blobs/{digest}")
    assert reply.status == 200, reply
    assert reply.body == data
    assert reply.headers["Docker-Content-Digest"] == digest


async def assert_resumes_and_completes(registry: RegistryClient, upload: OpenUpload) -> None:
    """The session still holds exactly HALF bytes, takes the rest, and commits the whole blob."""
    assert_upload_progress(await registry.request("GET", upload.location), 204, upload.name, HALF)
    assert_upload_progress(await registry.patch_chunk(upload.location, upload.rest, HALF), 202, upload.name, 2 * HALF)
    digest = str(Digest.of(upload.data))
    done = await registry.request("PUT", upload.location, query={"digest": digest})
    assert done.status == 201, done
    await assert_blob_holds(registry, upload.name, digest, upload.data)


async def stream(*parts: bytes) -> AsyncIterator[bytes]:
    """A request body sent with chunked transfer encoding: no Content-Length."""
    for part in parts:
        yield part


# -- happy paths --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_monolithic_post_with_digest_creates_the_blob_with_201(registry: RegistryClient, algorithm: str) -> None:
    name, data = fresh_name("uploads"), os.urandom(300)
    digest = str(Digest.of(data, algorithm))

    reply = await registry.request("POST", f"/v2/{name}/blobs/uploads/", body=data, query={"digest": digest})

    assert reply.status == 201, reply
    assert reply.headers["Location"] == f"/v2/{name}/blobs/{digest}"
    assert reply.headers["Docker-Content-Digest"] == digest
    await assert_blob_holds(registry, name, digest, data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_post_then_put_with_the_whole_blob_creates_it(registry: RegistryClient, algorithm: str) -> None:
    name, data = fresh_name("uploads"), os.urandom(300)
    digest = str(Digest.of(data, algorithm))

    started = await registry.request("POST", f"/v2/{name}/blobs/uploads/")
    done = await registry.request("PUT", started.headers["Location"], body=data, query={"digest": digest})

    assert_upload_session(started, name)
    assert done.status == 201, done
    assert done.headers["Location"] == f"/v2/{name}/blobs/{digest}"
    assert done.headers["Docker-Content-Digest"] == digest
    await assert_blob_holds(registry, name, digest, data)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_chunked_upload_reports_its_range_and_commits_the_concatenation(
    registry: RegistryClient, algorithm: str
) -> None:
    name = fresh_name("uploads")
    chunks = [os.urandom(size) for size in (100, 1, 250)]
    data = b"".join(chunks)
    digest = str(Digest.of(data, algorithm))
    location = await registry.start_upload(name)

    offset = 0
    for chunk in chunks:
        reply = await registry.patch_chunk(location, chunk, offset)
        offset += len(chunk)
        assert_upload_progress(reply, 202, name, offset)
        location = reply.headers["Location"]
    status = await registry.request("GET", location)
    done = await registry.request("PUT", location, query={"digest": digest})
    after = await registry.request("GET", location)

    assert_upload_progress(status, 204, name, len(data))
    assert done.status == 201, done
    assert done.headers["Location"] == f"/v2/{name}/blobs/{digest}"
    await assert_blob_holds(registry, name, digest, data)
    assert_oci_error(after, 404, "BLOB_UPLOAD_UNKNOWN")


async def test_put_may_carry_the_final_chunk_with_its_content_range(registry: RegistryClient) -> None:
    upload = await open_upload(registry)
    digest = str(Digest.of(upload.data))

    done = await registry.request(
        "PUT",
        upload.location,
        headers={"Content-Range": chunk_range(HALF, upload.rest)},
        body=upload.rest,
        query={"digest": digest},
    )

    assert done.status == 201, done
    await assert_blob_holds(registry, upload.name, digest, upload.data)


async def test_streamed_patches_without_content_range_append_in_order(registry: RegistryClient) -> None:
    name = fresh_name("uploads")
    parts = [os.urandom(70_000) for _ in range(4)]
    data = b"".join(parts)
    location = await registry.start_upload(name)

    first = await registry.request("PATCH", location, body=stream(*parts[:2]))
    second = await registry.request("PATCH", first.headers["Location"], body=stream(*parts[2:]))
    done = await registry.request("PUT", second.headers["Location"], query={"digest": str(Digest.of(data))})

    assert_upload_progress(first, 202, name, 140_000)
    assert_upload_progress(second, 202, name, 280_000)
    assert done.status == 201, done
    await assert_blob_holds(registry, name, str(Digest.of(data)), data)


async def test_cancelled_upload_answers_204_then_is_unknown(registry: RegistryClient) -> None:
    upload = await open_upload(registry)

    cancelled = await registry.request("DELETE", upload.location)
    status = await registry.request("GET", upload.location)

    assert cancelled.status == 204, cancelled
    assert_oci_error(status, 404, "BLOB_UPLOAD_UNKNOWN")


# -- digest mismatch ----------------------------------------------------------------------------------------


async def _monolithic(registry: RegistryClient, name: str, data: bytes, claimed: str) -> Reply:
    return await registry.request("POST", f"/v2/{name}/blobs/uploads/", body=data, query={"digest": claimed})


async def _chunked(registry: RegistryClient, name: str, data: bytes, claimed: str) -> Reply:
    location = await registry.start_upload(name)
    assert (await registry.patch_chunk(location, data, 0)).status == 202
    return await registry.request("PUT", location, query={"digest": claimed})


Push = Callable[[RegistryClient, str, bytes, str], Awaitable[Reply]]


@pytest.mark.parametrize("push", [_monolithic, _chunked], ids=["monolithic-post", "chunked-put"])
async def test_digest_mismatch_is_refused_and_nothing_is_stored_under_either_digest(
    registry: RegistryClient, push: Push
) -> None:
    name, data = fresh_name("uploads"), os.urandom(200)
    claimed, actual = str(Digest.of(b"something else")), str(Digest.of(data))

    reply = await push(registry, name, data, claimed)

    assert_oci_error(reply, 400, "DIGEST_INVALID")
    for digest in (claimed, actual):
        assert_oci_error(await registry.request("HEAD", f"/v2/{name}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    # Not stored anywhere else either: a mount without `from` finds nothing and opens a session instead.
    mount = await registry.request("POST", f"/v2/{fresh_name('uploads')}/blobs/uploads/", query={"mount": actual})
    assert mount.status == 202, mount


# -- failure table: a live session, one bad request ---------------------------------------------------------

Step = Callable[[RegistryClient, OpenUpload], Awaitable[Reply]]


def _patch(content_range: str, body_of: Callable[[OpenUpload], bytes] = lambda u: u.rest) -> Step:
    async def step(registry: RegistryClient, upload: OpenUpload) -> Reply:
        return await registry.request(
            "PATCH", upload.location, headers={"Content-Range": content_range}, body=body_of(upload)
        )

    return step


def _put(digest_of_upload: Callable[[OpenUpload], str | None], content_range: str | None = None) -> Step:
    async def step(registry: RegistryClient, upload: OpenUpload) -> Reply:
        digest = digest_of_upload(upload)
        return await registry.request(
            "PUT",
            upload.location,
            headers={"Content-Range": content_range} if content_range else None,
            body=upload.rest if content_range else None,
            query={"digest": digest} if digest else None,
        )

    return step


def _whole_digest(upload: OpenUpload) -> str:
    return str(Digest.of(upload.data))


REQUEST_FAULTS = [
    pytest.param(_patch(f"{2 * HALF}-{3 * HALF - 1}"), 416, "BLOB_UPLOAD_INVALID", True, id="patch-chunk-out-of-order"),
    pytest.param(
        _patch(f"0-{HALF - 1}"), 416, "BLOB_UPLOAD_INVALID", True, id="patch-chunk-repeated-on-stale-location"
    ),
    pytest.param(_patch(f"{HALF // 2}-{HALF // 2 + HALF - 1}"), 416, "BLOB_UPLOAD_INVALID", True, id="patch-overlap"),
    pytest.param(_patch(f"{HALF}-"), 400, "BLOB_UPLOAD_INVALID", True, id="patch-content-range-open"),
    pytest.param(_patch("everything"), 400, "BLOB_UPLOAD_INVALID", True, id="patch-content-range-garbage"),
    pytest.param(_patch(f"{2 * HALF - 1}-{HALF}"), 400, "BLOB_UPLOAD_INVALID", True, id="patch-content-range-reversed"),
    pytest.param(
        _patch(f"{HALF}-{2 * HALF - 1}", lambda u: u.rest[:3]),
        400,
        "BLOB_UPLOAD_INVALID",
        True,
        id="patch-content-range-longer-than-body",
    ),
    pytest.param(_put(lambda u: None), 400, "DIGEST_INVALID", True, id="put-without-digest"),
    pytest.param(_put(lambda u: "sha256:xyz"), 400, "DIGEST_INVALID", True, id="put-digest-malformed"),
    pytest.param(_put(lambda u: f"md5:{'a' * 32}"), 400, "DIGEST_INVALID", True, id="put-digest-unsupported"),
    pytest.param(
        _put(lambda u: str(Digest.of(u.data[:HALF] + b"!"))), 400, "DIGEST_INVALID", False, id="put-digest-mismatch"
    ),
    pytest.param(
        _put(_whole_digest, f"{2 * HALF}-{3 * HALF - 1}"),
        416,
        "BLOB_UPLOAD_INVALID",
        True,
        id="put-final-chunk-past-end",
    ),
]


@pytest.mark.parametrize(("step", "status", "code", "session_survives"), REQUEST_FAULTS)
async def test_bad_upload_request_is_refused_and_the_session_resumes_or_is_gone(
    registry: RegistryClient, step: Step, status: int, code: str, session_survives: bool
) -> None:
    upload = await open_upload(registry)

    reply = await step(registry, upload)

    assert_oci_error(reply, status, code)
    if status == 416:
        assert reply.headers["Range"] == f"0-{HALF - 1}"
    if session_survives:
        await assert_resumes_and_completes(registry, upload)
    else:
        assert_oci_error(await registry.request("GET", upload.location), 404, "BLOB_UPLOAD_UNKNOWN")


# -- failure table: a request that names no live session of its repository ----------------------------------

# A target turns a live session into the upload URL a request names instead.
Target = Callable[[RegistryClient, OpenUpload], Awaitable[str]]


async def _in_other_repository(registry: RegistryClient, upload: OpenUpload) -> str:
    other = fresh_name("uploads")
    await registry.push_blob(other, b"makes the other repository exist")
    return f"/v2/{other}/blobs/uploads/{upload_id_of(upload.location)}"


async def _unknown_id(_registry: RegistryClient, upload: OpenUpload) -> str:
    return f"/v2/{upload.name}/blobs/uploads/{uuid.uuid4()}"


async def _id_without_dashes(_registry: RegistryClient, upload: OpenUpload) -> str:
    return f"/v2/{upload.name}/blobs/uploads/{uuid.UUID(upload_id_of(upload.location)).hex}"


async def _id_uppercase(_registry: RegistryClient, upload: OpenUpload) -> str:
    return f"/v2/{upload.name}/blobs/uploads/{upload_id_of(upload.location).upper()}"


async def _id_not_a_uuid(_registry: RegistryClient, upload: OpenUpload) -> str:
    return f"/v2/{upload.name}/blobs/uploads/not-an-upload"


async def _cancelled(registry: RegistryClient, upload: OpenUpload) -> str:
    assert (await registry.request("DELETE", upload.location)).status == 204
    return upload.location


async def _completed(registry: RegistryClient, upload: OpenUpload) -> str:
    done = await registry.request(
        "PUT", upload.location, body=upload.rest, query={"digest": str(Digest.of(upload.data))}
    )
    assert done.status == 201, done
    return upload.location


SESSION_STEPS: dict[str, Callable[[RegistryClient, str], Awaitable[Reply]]] = {
    "status": lambda registry, url: registry.request("GET", url),
    "patch": lambda registry, url: registry.request(
        "PATCH", url, headers={"Content-Range": f"{HALF}-{2 * HALF - 1}"}, body=os.urandom(HALF)
    ),
    "put": lambda registry, url: registry.request("PUT", url, query={"digest": str(Digest.of(b""))}),
    "cancel": lambda registry, url: registry.request("DELETE", url),
}


@pytest.mark.parametrize("step", SESSION_STEPS)
@pytest.mark.parametrize(
    "target",
    [_in_other_repository, _unknown_id, _id_without_dashes, _id_uppercase, _id_not_a_uuid, _cancelled, _completed],
    ids=lambda target: target.__name__.strip("_").replace("_", "-"),
)
async def test_request_for_no_live_session_of_the_repository_is_404_blob_upload_unknown(
    registry: RegistryClient, step: str, target: Target
) -> None:
    upload = await open_upload(registry)
    url = await target(registry, upload)

    reply = await SESSION_STEPS[step](registry, url)

    assert_oci_error(reply, 404, "BLOB_UPLOAD_UNKNOWN")
    if url != upload.location:  # the live session was not touched
        await assert_resumes_and_completes(registry, upload)


# -- cross-repository mount ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MountCase:
    """Where the blob lives before the mount, and what the mount names as its source."""

    blob_in_source: bool
    source: str | None  # "source" for the repository holding the blob, "elsewhere" for one that does not


MOUNT_CASES = [
    pytest.param(MountCase(True, "source"), 201, id="from-repository-holding-blob"),
    pytest.param(MountCase(True, None), 201, id="without-from-blob-exists-elsewhere"),
    pytest.param(MountCase(True, "elsewhere"), 202, id="from-repository-without-blob"),
    pytest.param(MountCase(False, "source"), 202, id="unknown-blob-with-from"),
    pytest.param(MountCase(False, None), 202, id="unknown-blob-without-from"),
]


@pytest.mark.parametrize(("case", "status"), MOUNT_CASES)
async def test_mount_links_an_existing_blob_with_201_or_opens_a_session_with_202(
    registry: RegistryClient, case: MountCase, status: int
) -> None:
    source, elsewhere, target = fresh_name("mount"), fresh_name("mount"), fresh_name("mount")
    data = os.urandom(256)
    digest = str(Digest.of(data))
    await registry.push_blob(elsewhere, os.urandom(8))
    if case.blob_in_source:
        await registry.push_blob(source, data)
    query = {"mount": digest}
    if case.source is not None:
        query["from"] = source if case.source == "source" else elsewhere

    reply = await registry.request("POST", f"/v2/{target}/blobs/uploads/", query=query)

    assert reply.status == status, reply
    if status == 201:
        assert reply.headers["Location"] == f"/v2/{target}/blobs/{digest}"
        assert reply.headers["Docker-Content-Digest"] == digest
    else:  # a new, usable session: the client uploads the blob itself
        assert_upload_session(reply, target)
        done = await registry.request("PUT", reply.headers["Location"], body=data, query={"digest": digest})
        assert done.status == 201, done
    await assert_blob_holds(registry, target, digest, data)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param({"mount": "sha256:xyz"}, "DIGEST_INVALID", id="mount-digest-malformed"),
        pytest.param({"mount": f"md5:{'a' * 32}"}, "DIGEST_INVALID", id="mount-digest-unsupported"),
        pytest.param({"mount": str(Digest.of(b"x")), "from": "Not/Valid"}, "NAME_INVALID", id="from-name-invalid"),
    ],
)
async def test_mount_with_malformed_parameters_is_refused_with_400(
    registry: RegistryClient, query: dict[str, str], code: str
) -> None:
    reply = await registry.request("POST", f"/v2/{fresh_name('mount')}/blobs/uploads/", query=query)

    assert_oci_error(reply, 400, code)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        pytest.param("Upper/case", {}, id="start"),
        pytest.param("Upper/case", {"digest": str(Digest.of(b""))}, id="monolithic"),
        pytest.param("a" * 257, {}, id="name-too-long"),  # past ECR's 256
    ],
)
async def test_upload_into_an_invalid_repository_name_is_refused_with_400(
    registry: RegistryClient, name: str, query: dict[str, str]
) -> None:
    reply = await registry.request("POST", f"/v2/{name}/blobs/uploads/", body=b"", query=query)

    assert_oci_error(reply, 400, "NAME_INVALID")
