"""Discovery over HTTP: the version check, unknown endpoints, tags list, catalog and the referrers API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pullcache.core.digests import Digest
from testkit.registry_client import Content, RegistryClient
from testkit.reply import Reply
from testkit.servers import PullcacheServer
from tests.integration.oci_protocol import (
    API_VERSION_HEADER,
    EMPTY_CONFIG,
    OCI_ERROR_CODES,
    OCI_INDEX,
    OCI_MANIFEST,
    assert_oci_error,
    fresh_name,
    image_manifest,
    index_manifest,
    next_link,
    oci_error_codes,
    push_image,
    random_layer,
    serve_pullcache,
    unique_config,
)

MAX_PAGES = 20  # bounds every walk along Link headers
SBOM = "application/vnd.example.sbom.v1+json"
SIGNATURE_CONFIG = "application/vnd.example.signature.config.v1+json"
BUNDLE = "application/vnd.example.bundle.v1"
UNKNOWN_DIGEST = f"sha256:{'0' * 64}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    yield from serve_pullcache(tmp_path_factory)


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """A server that holds only CATALOG: every catalog test pushes exactly those repositories, idempotently."""
    yield from serve_pullcache(tmp_path_factory)


@pytest.fixture
async def registry(server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(server.url) as client:
        yield client


CATALOG = ["zeta", "alpha/one", "alpha", "beta/two/three", "gamma", "alpha-b", "delta"]


@pytest.fixture
async def catalog_registry(catalog_server: PullcacheServer) -> AsyncIterator[RegistryClient]:
    async with RegistryClient.connect(catalog_server.url) as client:
        for name in CATALOG:
            await client.push_blob(name, b"makes the repository exist")
        yield client


# -- the API root and what is not an endpoint ---------------------------------------------------------------


async def test_version_check_answers_200_with_the_api_version_header(registry: RegistryClient) -> None:
    reply = await registry.request("GET", "/v2/")

    assert reply.status == 200, reply
    assert reply.headers[API_VERSION_HEADER] == "registry/2.0"
    assert reply.json() == {}


@pytest.mark.parametrize(
    "path",
    [
        "/v2",
        "/v2/nothing/here",
        "/v2/repo/blobs/",
        "/v2/repo/manifests/",
        "/v2/repo/tags/lists",
        "/v2/repo/referrers/",
        "/v2/_catalogue",
    ],
)
async def test_unknown_endpoint_is_404_in_the_oci_error_shape(registry: RegistryClient, path: str) -> None:
    reply = await registry.request("GET", path)

    assert reply.status == 404, reply
    codes = oci_error_codes(reply)
    assert set(codes) <= OCI_ERROR_CODES, codes
    assert reply.headers[API_VERSION_HEADER] == "registry/2.0"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v2/", {"GET", "HEAD"}),
        ("DELETE", "/v2/_catalog", {"GET", "HEAD"}),
        ("PUT", "/v2/repo/tags/list", {"GET", "HEAD"}),
        ("PUT", f"/v2/repo/blobs/{UNKNOWN_DIGEST}", {"GET", "HEAD", "DELETE"}),
        ("PATCH", "/v2/repo/manifests/latest", {"GET", "HEAD", "PUT", "DELETE"}),
        ("PUT", "/v2/repo/blobs/uploads/", {"POST"}),
        ("HEAD", "/v2/repo/blobs/uploads/0b8e62a6-5d5e-4f5e-9e4a-3d2c1b0a9f8e", {"GET", "PATCH", "PUT", "DELETE"}),
        ("POST", f"/v2/repo/referrers/{UNKNOWN_DIGEST}", {"GET", "HEAD"}),
    ],
)
async def test_wrong_method_is_405_unsupported_naming_the_allowed_methods(
    registry: RegistryClient, method: str, path: str, allowed: set[str]
) -> None:
    reply = await registry.request(method, path)

    assert_oci_error(reply, 405, "UNSUPPORTED")
    assert {m.strip() for m in reply.headers["Allow"].split(",")} == allowed
    assert reply.headers[API_VERSION_HEADER] == "registry/2.0"


# -- tags list ----------------------------------------------------------------------------------------------


async def push_tags(registry: RegistryClient, tags: list[str]) -> str:
    """A fresh repository with one image under every tag of `tags`, pushed in that order."""
    name = fresh_name("discovery")
    manifest = await push_image(registry, name)
    for tag in tags:
        await registry.push_manifest(name, manifest, tag)
    return name


def link_query(link: str, path: str) -> dict[str, list[str]]:
    """The query of a next-page `link` that must point at `path`."""
    target = urlsplit(link)
    assert target.path == path, link
    assert not target.scheme, link
    return parse_qs(target.query, strict_parsing=True)


async def test_tags_list_is_sorted_whatever_the_push_order(registry: RegistryClient) -> None:
    tags = ["v2", "v10", "alpha", "Beta", "1.0", "latest", "_private", "v1.0.0-rc.1"]
    name = await push_tags(registry, tags)

    reply = await registry.request("GET", f"/v2/{name}/tags/list")

    assert reply.status == 200, reply
    assert reply.json() == {"name": name, "tags": sorted(tags)}
    assert "Link" not in reply.headers


FIVE_TAGS = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("query", "page", "next_query"),
    [
        pytest.param({"n": "2"}, ["a", "b"], "n=2&last=b", id="first-page"),
        pytest.param({"n": "2", "last": "b"}, ["c", "d"], "n=2&last=d", id="middle-page"),
        pytest.param({"n": "2", "last": "d"}, ["e"], None, id="last-page-partial"),
        pytest.param({"n": "4"}, ["a", "b", "c", "d"], "n=4&last=d", id="one-remains"),
        pytest.param({"n": "5"}, FIVE_TAGS, None, id="page-holds-exactly-all"),
        pytest.param({"n": "50"}, FIVE_TAGS, None, id="page-larger-than-all"),
        pytest.param({"last": "c"}, ["d", "e"], None, id="last-without-n"),
        pytest.param({"n": "2", "last": "bb"}, ["c", "d"], "n=2&last=d", id="last-between-tags"),
        pytest.param({"n": "2", "last": "e"}, [], None, id="after-the-last-tag"),
    ],
)
async def test_tags_list_pages_with_a_link_exactly_when_more_remain(
    registry: RegistryClient, query: dict[str, str], page: list[str], next_query: str | None
) -> None:
    name = await push_tags(registry, list(reversed(FIVE_TAGS)))

    reply = await registry.request("GET", f"/v2/{name}/tags/list", query=query)

    assert reply.status == 200, reply
    assert reply.json() == {"name": name, "tags": page}
    expected_link = None if next_query is None else f'</v2/{name}/tags/list?{next_query}>; rel="next"'
    assert reply.headers.get("Link") == expected_link


async def test_following_tags_list_links_visits_every_tag_once(registry: RegistryClient) -> None:
    tags = [f"t{i:02d}" for i in range(7)]
    name = await push_tags(registry, tags)

    seen: list[str] = []
    target: str | None = f"/v2/{name}/tags/list?n=3"
    for _ in range(MAX_PAGES):
        if target is None:
            break
        reply = await registry.request("GET", target)
        assert reply.status == 200, reply
        seen += reply.json()["tags"]
        target = next_link(reply)
    assert seen == tags


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        pytest.param("discovery/never-pushed", 404, "NAME_UNKNOWN", id="unknown-repository"),
        pytest.param("Upper/case", 400, "NAME_INVALID", id="invalid-name"),
    ],
)
async def test_tags_list_of_no_repository_is_refused(
    registry: RegistryClient, name: str, status: int, code: str
) -> None:
    reply = await registry.request("GET", f"/v2/{name}/tags/list")

    assert_oci_error(reply, status, code)


@pytest.mark.parametrize("n", ["-1", "abc", "1.5", "①", "²"])
@pytest.mark.parametrize("path", ["/v2/alpha/tags/list", "/v2/_catalog"])
async def test_page_size_that_is_not_a_plain_number_is_unsupported(
    catalog_registry: RegistryClient, path: str, n: str
) -> None:
    reply = await catalog_registry.request("GET", path, query={"n": n})

    assert_oci_error(reply, 400, "UNSUPPORTED")


# -- catalog ------------------------------------------------------------------------------------------------


async def test_catalog_lists_every_repository_in_order(catalog_registry: RegistryClient) -> None:
    reply = await catalog_registry.request("GET", "/v2/_catalog")

    assert reply.status == 200, reply
    assert reply.json() == {"repositories": sorted(CATALOG)}
    assert "Link" not in reply.headers


async def test_catalog_pages_link_to_the_next_page_until_the_last(catalog_registry: RegistryClient) -> None:
    pages: list[list[str]] = []
    target: str | None = "/v2/_catalog?n=3"
    for _ in range(MAX_PAGES):
        if target is None:
            break
        reply = await catalog_registry.request("GET", target)
        assert reply.status == 200, reply
        page = reply.json()["repositories"]
        pages.append(page)
        target = next_link(reply)
        if target is not None:
            assert link_query(target, "/v2/_catalog") == {"n": ["3"], "last": [page[-1]]}

    everything = sorted(CATALOG)
    assert pages == [everything[0:3], everything[3:6], everything[6:]]


# -- referrers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Referrers:
    """A subject in `name` and the three manifests that refer to it."""

    name: str
    subject: Content
    sbom: Content  # artifact manifest: artifactType, empty config, annotations
    signature: Content  # image manifest without artifactType: its config's media type stands in
    bundle: Content  # index with artifactType and annotations

    def descriptors(self) -> dict[str, dict[str, Any]]:
        """What the referrers API must list for each referrer, by digest."""
        return {
            self.sbom.digest: self.sbom.descriptor(artifactType=SBOM, annotations={"org.example.kind": "sbom"}),
            self.signature.digest: self.signature.descriptor(artifactType=SIGNATURE_CONFIG),
            self.bundle.digest: self.bundle.descriptor(artifactType=BUNDLE, annotations={"org.example.n": "1"}),
        }


async def push_referrers(registry: RegistryClient) -> Referrers:
    name = fresh_name("referrers")
    subject = await push_image(registry, name)
    await registry.push_manifest(name, subject, "subject")
    layer, signature_config = random_layer(media_type=SBOM), unique_config(SIGNATURE_CONFIG)
    await registry.push_all(name, [EMPTY_CONFIG, layer, signature_config])
    referrers = Referrers(
        name,
        subject,
        image_manifest(
            EMPTY_CONFIG, [layer], artifact_type=SBOM, subject=subject, annotations={"org.example.kind": "sbom"}
        ),
        image_manifest(signature_config, [layer], subject=subject),
        index_manifest([], artifact_type=BUNDLE, subject=subject, annotations={"org.example.n": "1"}),
    )
    for referrer in (referrers.sbom, referrers.signature, referrers.bundle):
        await registry.push_manifest(name, referrer)
    # Refers to another subject: never listed for this one.
    await registry.push_manifest(name, image_manifest(EMPTY_CONFIG, [layer], subject=EMPTY_CONFIG))
    return referrers


def listed(reply: Reply) -> dict[str, dict[str, Any]]:
    """The descriptors of a referrers answer by digest, once its envelope is checked."""
    assert reply.status == 200, reply
    assert reply.headers["Content-Type"] == OCI_INDEX
    index = reply.json()
    assert set(index) == {"schemaVersion", "mediaType", "manifests"}, index
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    descriptors = {d["digest"]: d for d in index["manifests"]}
    assert len(descriptors) == len(index["manifests"]), index
    return descriptors


async def test_manifest_with_a_subject_that_does_not_exist_yet_is_accepted_with_oci_subject(
    registry: RegistryClient,
) -> None:
    name = fresh_name("referrers")
    absent_subject = Content(OCI_MANIFEST, b'{"not": "pushed"}')
    await registry.push_blob(name, EMPTY_CONFIG.data)
    referrer = image_manifest(EMPTY_CONFIG, [], artifact_type=SBOM, subject=absent_subject)

    reply = await registry.put_manifest(name, referrer.digest, referrer)
    found = await registry.request("GET", f"/v2/{name}/referrers/{absent_subject.digest}")

    assert reply.status == 201, reply
    assert reply.headers["OCI-Subject"] == absent_subject.digest
    assert listed(found) == {referrer.digest: referrer.descriptor(artifactType=SBOM)}


async def test_manifest_without_a_subject_gets_no_oci_subject_header(registry: RegistryClient) -> None:
    name = fresh_name("referrers")
    manifest = await push_image(registry, name)

    reply = await registry.put_manifest(name, "plain", manifest)

    assert reply.status == 201, reply
    assert "OCI-Subject" not in reply.headers


async def test_referrers_list_is_an_oci_index_of_every_referrer_descriptor(registry: RegistryClient) -> None:
    referrers = await push_referrers(registry)

    reply = await registry.request("GET", f"/v2/{referrers.name}/referrers/{referrers.subject.digest}")

    assert listed(reply) == referrers.descriptors()
    assert "OCI-Filters-Applied" not in reply.headers


@pytest.mark.parametrize(
    ("artifact_type", "expected"),
    [
        pytest.param(SBOM, "sbom", id="manifest-artifact-type"),
        pytest.param(SIGNATURE_CONFIG, "signature", id="config-media-type"),
        pytest.param(BUNDLE, "bundle", id="index-artifact-type"),
        pytest.param("application/vnd.example.none", None, id="matching-nothing"),
    ],
)
async def test_referrers_filtered_by_artifact_type_say_the_filter_was_applied(
    registry: RegistryClient, artifact_type: str, expected: str | None
) -> None:
    referrers = await push_referrers(registry)

    reply = await registry.request(
        "GET", f"/v2/{referrers.name}/referrers/{referrers.subject.digest}", query={"artifactType": artifact_type}
    )

    everything = referrers.descriptors()
    wanted = {} if expected is None else {getattr(referrers, expected).digest}
    assert listed(reply) == {digest: d for digest, d in everything.items() if digest in wanted}
    assert reply.headers["OCI-Filters-Applied"] == "artifactType"


async def test_deleted_referrer_is_no_longer_listed(registry: RegistryClient) -> None:
    referrers = await push_referrers(registry)

    deleted = await registry.request("DELETE", f"/v2/{referrers.name}/manifests/{referrers.sbom.digest}")
    reply = await registry.request("GET", f"/v2/{referrers.name}/referrers/{referrers.subject.digest}")

    assert deleted.status == 202, deleted
    everything = referrers.descriptors()
    del everything[referrers.sbom.digest]
    assert listed(reply) == everything


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda name: f"/v2/{name}/referrers/{UNKNOWN_DIGEST}", id="unknown-subject"),
        pytest.param(lambda name: f"/v2/{name}/referrers/{Digest.of(b'x', 'sha512')}", id="unknown-sha512-subject"),
        pytest.param(lambda _name: f"/v2/referrers/never-pushed/referrers/{UNKNOWN_DIGEST}", id="unknown-repository"),
    ],
)
async def test_referrers_of_an_unknown_subject_is_an_empty_index(
    registry: RegistryClient, target: Callable[[str], str]
) -> None:
    referrers = await push_referrers(registry)

    reply = await registry.request("GET", target(referrers.name))

    assert listed(reply) == {}


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/v2/referrers/repo/referrers/sha256:xyz", "DIGEST_INVALID", id="digest-malformed"),
        pytest.param(f"/v2/referrers/repo/referrers/md5:{'a' * 32}", "DIGEST_INVALID", id="digest-unsupported"),
        pytest.param("/v2/referrers/repo/referrers/latest", "DIGEST_INVALID", id="tag-instead-of-digest"),
        pytest.param(f"/v2/Upper/case/referrers/{UNKNOWN_DIGEST}", "NAME_INVALID", id="name-invalid"),
    ],
)
async def test_referrers_request_with_a_malformed_digest_or_name_is_400(
    registry: RegistryClient, path: str, code: str
) -> None:
    reply = await registry.request("GET", path)

    assert_oci_error(reply, 400, code)
