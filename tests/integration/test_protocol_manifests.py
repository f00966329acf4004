"""Manifests over HTTP: PUT by tag and digest, byte-exact GET/HEAD of every kind, tags, deletes, refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from pullcache.core.digests import Digest
from testkit.registry_client import Content, RegistryClient
from testkit.reply import Reply
from testkit.servers import PullcacheServer
from tests.integration.oci_protocol import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    EMPTY_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_oci_error,
    encode,
    fresh_name,
    image_manifest,
    index_manifest,
    push_image,
    random_layer,
    serve_pullcache,
    unique_config,
)

SMALL_LIMIT = 2048
SBOM = "application/vnd.example.sbom.v1+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    yield from serve_pullcache(tmp_path_factory)


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    yield from serve_pullcache(tmp_path_factory, "--max-manifest-bytes", str(SMALL_LIMIT))


@pytest.fixture
async def registry(server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(server.url) as client:
        yield client


@pytest.fixture
async def small_registry(small_server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(small_server.url) as client:
        yield client


async def assert_served(registry: RegistryClient, name: str, reference: str, manifest: Content) -> None:
    """GET and HEAD of `reference` answer the stored bytes, byte for byte, with their media type and digest."""
    got = await registry.request("GET", f"/v2/{name}/manifests/{reference}")
    head = await registry.request("HEAD", f"/v2/{name}/manifests/{reference}")
    for reply in (got, head):
        assert reply.status == 200, reply
        assert reply.headers["Content-Type"] == manifest.media_type
        assert reply.headers["Docker-Content-Digest"] == manifest.digest
        assert reply.headers["Content-Length"] == str(len(manifest.data))
    assert got.body == manifest.data
    assert head.body == b""


async def assert_unknown(registry: RegistryClient, name: str, reference: str) -> None:
    assert_oci_error(await registry.request("GET", f"/v2/{name}/manifests/{reference}"), 404, "MANIFEST_UNKNOWN")


async def tags_of(registry: RegistryClient, name: str) -> list[str]:
    reply = await registry.request("GET", f"/v2/{name}/tags/list")
    assert reply.status == 200, reply
    tags = reply.json()["tags"]
    assert isinstance(tags, list)
    return tags


# -- every kind of manifest, stored and served byte for byte ------------------------------------------------

Kind = Callable[[RegistryClient, str], Awaitable[Content]]


async def _oci_image(registry: RegistryClient, name: str) -> Content:
    return await push_image(registry, name)


async def _docker_image(registry: RegistryClient, name: str) -> Content:
    return await push_image(registry, name, media_type=DOCKER_MANIFEST)


async def _index_of(registry: RegistryClient, name: str, image_type: str, index_type: str) -> Content:
    children = [await push_image(registry, name, media_type=image_type) for _ in range(2)]
    for child in children:
        await registry.push_manifest(name, child)
    return index_manifest(children, media_type=index_type)


async def _oci_index(registry: RegistryClient, name: str) -> Content:
    return await _index_of(registry, name, OCI_MANIFEST, OCI_INDEX)


async def _docker_manifest_list(registry: RegistryClient, name: str) -> Content:
    return await _index_of(registry, name, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)


async def _artifact(registry: RegistryClient, name: str) -> Content:
    layer = random_layer(media_type=SBOM)
    await registry.push_all(name, [EMPTY_CONFIG, layer])
    return image_manifest(EMPTY_CONFIG, [layer], artifact_type=SBOM, annotations={"org.example.kind": "sbom"})


KINDS = [
    pytest.param(_oci_image, id="oci-manifest"),
    pytest.param(_oci_index, id="oci-index"),
    pytest.param(_docker_image, id="docker-manifest"),
    pytest.param(_docker_manifest_list, id="docker-manifest-list"),
    pytest.param(_artifact, id="artifact-with-empty-config"),
]


@pytest.mark.parametrize("kind", KINDS)
async def test_manifest_put_by_tag_is_served_byte_for_byte_by_tag_and_digest(
    registry: RegistryClient, kind: Kind
) -> None:
    name = fresh_name("manifests")
    manifest = await kind(registry, name)

    reply = await registry.put_manifest(name, "v1", manifest)

    assert reply.status == 201, reply
    assert reply.headers["Location"] == f"/v2/{name}/manifests/{manifest.digest}"
    assert reply.headers["Docker-Content-Digest"] == manifest.digest
    await assert_served(registry, name, "v1", manifest)
    await assert_served(registry, name, manifest.digest, manifest)


@pytest.mark.parametrize("kind", KINDS)
async def test_manifest_put_by_digest_is_served_by_digest_and_creates_no_tag(
    registry: RegistryClient, kind: Kind
) -> None:
    name = fresh_name("manifests")
    manifest = await kind(registry, name)

    reply = await registry.put_manifest(name, manifest.digest, manifest)

    assert reply.status == 201, reply
    assert reply.headers["Location"] == f"/v2/{name}/manifests/{manifest.digest}"
    assert reply.headers["Docker-Content-Digest"] == manifest.digest
    await assert_served(registry, name, manifest.digest, manifest)
    assert await tags_of(registry, name) == []


async def test_manifest_put_by_sha512_digest_is_served_under_it(registry: RegistryClient) -> None:
    name = fresh_name("manifests")
    manifest = await push_image(registry, name)
    sha512 = str(Digest.of(manifest.data, "sha512"))

    reply = await registry.put_manifest(name, sha512, manifest)
    got = await registry.request("GET", f"/v2/{name}/manifests/{sha512}")

    assert reply.status == 201, reply
    assert reply.headers["Docker-Content-Digest"] == sha512
    assert reply.headers["Location"] == f"/v2/{name}/manifests/{sha512}"
    assert got.status == 200, got
    assert got.body == manifest.data
    assert got.headers["Docker-Content-Digest"] == sha512


async def test_manifest_without_media_type_field_is_served_with_the_content_type_it_was_pushed_with(
    registry: RegistryClient,
) -> None:
    name = fresh_name("manifests")
    pushed = await push_image(registry, name)
    document = json.loads(pushed.data)
    del document["mediaType"]
    manifest = Content(OCI_MANIFEST, encode(document))

    reply = await registry.put_manifest(name, "bare", manifest)

    assert reply.status == 201, reply
    await assert_served(registry, name, "bare", manifest)


# -- tags move, deletes ---------------------------------------------------------------------------------------


async def test_re_putting_a_tag_moves_it_and_keeps_the_old_manifest_by_digest(registry: RegistryClient) -> None:
    name = fresh_name("manifests")
    first, second = await push_image(registry, name), await push_image(registry, name)
    await registry.push_manifest(name, first, "latest")

    moved = await registry.put_manifest(name, "latest", second)

    assert moved.status == 201, moved
    await assert_served(registry, name, "latest", second)
    await assert_served(registry, name, first.digest, first)
    assert await tags_of(registry, name) == ["latest"]


async def test_delete_by_digest_removes_the_manifest_and_every_tag_on_it(registry: RegistryClient) -> None:
    name = fresh_name("manifests")
    doomed, kept = await push_image(registry, name), await push_image(registry, name)
    for tag in ("a", "b"):
        await registry.push_manifest(name, doomed, tag)
    await registry.push_manifest(name, kept, "c")

    deleted = await registry.request("DELETE", f"/v2/{name}/manifests/{doomed.digest}")

    assert deleted.status == 202, deleted
    for reference in ("a", "b", doomed.digest):
        await assert_unknown(registry, name, reference)
    assert await tags_of(registry, name) == ["c"]
    await assert_served(registry, name, "c", kept)


async def test_delete_by_tag_removes_only_the_tag(registry: RegistryClient) -> None:
    name = fresh_name("manifests")
    manifest = await push_image(registry, name)
    for tag in ("gone", "stays"):
        await registry.push_manifest(name, manifest, tag)

    deleted = await registry.request("DELETE", f"/v2/{name}/manifests/gone")

    assert deleted.status == 202, deleted
    await assert_unknown(registry, name, "gone")
    await assert_served(registry, name, manifest.digest, manifest)
    await assert_served(registry, name, "stays", manifest)
    assert await tags_of(registry, name) == ["stays"]


@pytest.mark.parametrize("reference", ["never-tagged", f"sha256:{'0' * 64}"], ids=["tag", "digest"])
async def test_delete_of_an_unknown_manifest_is_404_manifest_unknown(registry: RegistryClient, reference: str) -> None:
    name = fresh_name("manifests")
    await registry.push_manifest(name, await push_image(registry, name), "present")

    reply = await registry.request("DELETE", f"/v2/{name}/manifests/{reference}")

    assert_oci_error(reply, 404, "MANIFEST_UNKNOWN")


# -- failure table: PUT ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parts:
    """A config and a layer pushed into `name`, and a blob that lives only in another repository."""

    name: str
    config: Content
    layer: Content
    foreign: Content

    @property
    def manifest(self) -> Content:
        return image_manifest(self.config, [self.layer])


async def push_parts(registry: RegistryClient) -> Parts:
    name = fresh_name("manifests")
    config, layer, foreign = unique_config(), random_layer(), random_layer()
    await registry.push_all(name, [config, layer])
    await registry.push_blob(fresh_name("manifests"), foreign.data)
    return Parts(name, config, layer, foreign)


@dataclass(frozen=True, slots=True)
class Attempt:
    reference: str
    manifest: Content  # its media type is the Content-Type sent


def _edited(edit: Callable[[dict[str, Any]], object]) -> Callable[[Parts], Attempt]:
    """An attempt to tag the valid image manifest after `edit` has changed its document in place."""

    def attempt(parts: Parts) -> Attempt:
        document = json.loads(parts.manifest.data)
        edit(document)
        return Attempt("candidate", Content(OCI_MANIFEST, encode(document)))

    return attempt


def _tagged(build: Callable[[Parts], Content]) -> Callable[[Parts], Attempt]:
    return lambda parts: Attempt("candidate", build(parts))


PUT_FAULTS = [
    pytest.param(
        lambda p: Attempt(str(Digest.of(b"other")), p.manifest), 400, "DIGEST_INVALID", id="reference-digest-mismatch"
    ),
    pytest.param(lambda p: Attempt("sha256:xyz", p.manifest), 400, "DIGEST_INVALID", id="reference-digest-malformed"),
    pytest.param(
        lambda p: Attempt(f"md5:{'a' * 32}", p.manifest),
        400,
        "DIGEST_INVALID",
        id="reference-digest-unsupported",
    ),
    pytest.param(lambda p: Attempt("-bad", p.manifest), 400, "TAG_INVALID", id="reference-tag-invalid"),
    pytest.param(lambda p: Attempt("t" * 129, p.manifest), 400, "TAG_INVALID", id="reference-tag-too-long"),
    pytest.param(_tagged(lambda p: Content(OCI_MANIFEST, b"{not json")), 400, "MANIFEST_INVALID", id="invalid-json"),
    pytest.param(_tagged(lambda p: Content(OCI_MANIFEST, b"[]")), 400, "MANIFEST_INVALID", id="json-not-an-object"),
    pytest.param(_edited(lambda d: d.update(schemaVersion=1)), 400, "MANIFEST_INVALID", id="schema-version-1"),
    pytest.param(_edited(lambda d: d.pop("schemaVersion")), 400, "MANIFEST_INVALID", id="schema-version-missing"),
    pytest.param(
        _tagged(lambda p: replace(p.manifest, media_type=DOCKER_MANIFEST)),
        400,
        "MANIFEST_INVALID",
        id="content-type-contradicts-media-type",
    ),
    pytest.param(
        _tagged(lambda p: replace(p.manifest, media_type=OCI_INDEX)),
        400,
        "MANIFEST_INVALID",
        id="content-type-index-for-image-manifest",
    ),
    pytest.param(
        _edited(lambda d: d.update(mediaType="application/vnd.example.unknown+json")),
        400,
        "MANIFEST_INVALID",
        id="media-type-unknown",
    ),
    pytest.param(_edited(lambda d: d.update(config="x")), 400, "MANIFEST_INVALID", id="config-not-a-descriptor"),
    pytest.param(
        _edited(lambda d: d["layers"][0].update(digest="sha256:xyz")), 400, "MANIFEST_INVALID", id="layer-digest-bad"
    ),
    pytest.param(_edited(lambda d: d["layers"][0].update(size=-1)), 400, "MANIFEST_INVALID", id="layer-size-negative"),
    pytest.param(
        _tagged(lambda p: image_manifest(p.config, [p.layer, random_layer()])),
        400,
        "MANIFEST_BLOB_UNKNOWN",
        id="layer-missing",
    ),
    pytest.param(
        _tagged(lambda p: image_manifest(unique_config(), [p.layer])), 400, "MANIFEST_BLOB_UNKNOWN", id="config-missing"
    ),
    pytest.param(
        _tagged(lambda p: image_manifest(p.config, [p.foreign])),
        400,
        "MANIFEST_BLOB_UNKNOWN",
        id="layer-only-in-another-repository",
    ),
    pytest.param(
        _tagged(lambda p: index_manifest([p.manifest])), 400, "MANIFEST_BLOB_UNKNOWN", id="index-child-missing"
    ),
    pytest.param(
        _tagged(
            lambda p: index_manifest(
                [image_manifest(p.config, [p.layer], media_type=DOCKER_MANIFEST)], media_type=DOCKER_MANIFEST_LIST
            )
        ),
        400,
        "MANIFEST_BLOB_UNKNOWN",
        id="manifest-list-child-missing",
    ),
]


@pytest.mark.parametrize(("fault", "status", "code"), PUT_FAULTS)
async def test_refused_manifest_put_answers_the_oci_error_and_stores_nothing(
    registry: RegistryClient, fault: Callable[[Parts], Attempt], status: int, code: str
) -> None:
    parts = await push_parts(registry)
    attempt = fault(parts)

    reply = await registry.put_manifest(parts.name, attempt.reference, attempt.manifest)

    assert_oci_error(reply, status, code)
    await assert_unknown(registry, parts.name, attempt.manifest.digest)
    assert await tags_of(registry, parts.name) == []


# -- failure table: GET and HEAD ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tagged:
    """An image tagged "present" in `name`, and `other`, a repository that holds another image."""

    name: str
    other: str
    digest: str


def _in_repository(reference: str) -> Callable[[Tagged], tuple[str, str]]:
    return lambda tagged: (tagged.name, reference)


GET_FAULTS = [
    pytest.param(_in_repository("absent"), 404, "MANIFEST_UNKNOWN", id="tag-unknown"),
    pytest.param(_in_repository(f"sha256:{'0' * 64}"), 404, "MANIFEST_UNKNOWN", id="digest-unknown"),
    pytest.param(lambda t: (t.other, "present"), 404, "MANIFEST_UNKNOWN", id="tag-of-another-repository"),
    pytest.param(lambda t: (t.other, t.digest), 404, "MANIFEST_UNKNOWN", id="digest-of-another-repository"),
    pytest.param(_in_repository("-bad"), 404, "MANIFEST_UNKNOWN", id="tag-invalid-leading-dash"),
    pytest.param(_in_repository(".bad"), 404, "MANIFEST_UNKNOWN", id="tag-invalid-leading-dot"),
    pytest.param(_in_repository("t" * 129), 404, "MANIFEST_UNKNOWN", id="tag-invalid-too-long"),
    pytest.param(_in_repository("sha256:xyz"), 400, "DIGEST_INVALID", id="digest-malformed"),
    pytest.param(_in_repository(f"md5:{'a' * 32}"), 400, "DIGEST_INVALID", id="digest-unsupported"),
    pytest.param(lambda t: ("Upper/case", "present"), 400, "NAME_INVALID", id="name-invalid"),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("fault", "status", "code"), GET_FAULTS)
async def test_manifest_get_of_what_is_not_there_is_refused_with_oci_error(
    registry: RegistryClient, method: str, fault: Callable[[Tagged], tuple[str, str]], status: int, code: str
) -> None:
    name, other = fresh_name("manifests"), fresh_name("manifests")
    manifest = await push_image(registry, name)
    await registry.push_manifest(name, manifest, "present")
    await registry.push_manifest(other, await push_image(registry, other), "elsewhere")
    repository, reference = fault(Tagged(name, other, manifest.digest))

    reply = await registry.request(method, f"/v2/{repository}/manifests/{reference}")

    assert_oci_error(reply, status, code)


# -- the size limit ---------------------------------------------------------------------------------------------


def manifest_of_size(parts: Parts, size: int) -> Content:
    """The image manifest of `parts`, padded with an annotation to exactly `size` bytes."""
    base = image_manifest(parts.config, [parts.layer], annotations={"pad": ""})
    padded = image_manifest(parts.config, [parts.layer], annotations={"pad": "x" * (size - len(base.data))})
    assert len(padded.data) == size
    return padded


async def _chunks_of(data: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("reference", ["tag", "digest"])
async def test_manifest_up_to_the_limit_is_stored_and_one_byte_more_is_413_size_invalid(
    small_registry: RegistryClient, streamed: bool, reference: str
) -> None:
    parts = await push_parts(small_registry)
    fits, too_large = manifest_of_size(parts, SMALL_LIMIT), manifest_of_size(parts, SMALL_LIMIT + 1)

    async def put(manifest: Content) -> Reply:
        return await small_registry.request(
            "PUT",
            f"/v2/{parts.name}/manifests/{'t' if reference == 'tag' else manifest.digest}",
            headers={"Content-Type": manifest.media_type},
            body=_chunks_of(manifest.data) if streamed else manifest.data,
        )

    refused, stored = await put(too_large), await put(fits)

    assert_oci_error(refused, 413, "SIZE_INVALID")
    await assert_unknown(small_registry, parts.name, too_large.digest)
    assert stored.status == 201, stored
    await assert_served(small_registry, parts.name, fits.digest, fits)
