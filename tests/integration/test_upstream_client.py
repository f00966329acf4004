"""UpstreamClient against a real CNCF Distribution: directly, behind a TokenGate that demands tokens or Basic
credentials, and behind a FaultyUpstream that fails, throttles, corrupts, breaks off, redirects or goes down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Final

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.pullthrough.errors import UpstreamDenied, UpstreamInvalid, UpstreamNotFound, UpstreamUnavailable
from pullcache.pullthrough.ports import UpstreamCredentials, UpstreamEndpoint
from pullcache.pullthrough.upstream import MAX_PIECE_BYTES, UpstreamClient
from testkit.hashing import Sha256Tap
from testkit.images import DOCKER, DirLayout, ImageTree, OciLayout, write_image, write_index
from testkit.servers import DistributionServer, free_port
from testkit.sync_client import get_blob
from tests.integration import skopeo
from tests.upstreams import MANIFEST_PATTERN, FaultyUpstream, ReverseProxy, TokenGate

REPOSITORY: Final = "library/app"
USERNAME: Final = "puller"
PASSWORD: Final = "correct horse"
RETRIES: Final = 3
USER_AGENT: Final = "pullcache-test/1"


@dataclass(frozen=True)
class Seeded:
    registry: DistributionServer
    image: ImageTree  # OCI image manifest, tag "v1"
    index: ImageTree  # Docker manifest list, tag "list"

    @property
    def large_layer(self) -> Digest:
        return Digest.parse(self.image.layers[self.image.digest][-1])


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One Distribution for the module, holding an OCI image and a Docker manifest list of two platforms."""
    root = tmp_path_factory.mktemp("upstream-client")
    registry = DistributionServer(root / "distribution").start()
    try:
        oci = OciLayout(root / "oci")
        image = write_image(oci, "v1", (1024, 16_000_000))
        skopeo.copy_all(oci.reference("v1"), skopeo.docker_reference(registry.address, REPOSITORY, "v1"))
        docker = DirLayout(root / "docker")
        index = write_index(docker, "list", (2048,), seed=1, media_types=DOCKER)
        skopeo.copy_all(docker.reference("list"), skopeo.docker_reference(registry.address, REPOSITORY, "list"))
        yield Seeded(registry, image, index)
    finally:
        registry.stop()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    async with UpstreamClient(retries=RETRIES, backoff_base=0.01, user_agent=USER_AGENT) as upstream_client:
        yield upstream_client


@pytest.fixture
def faulty(seeded: Seeded) -> Iterator[FaultyUpstream]:
    with FaultyUpstream(seeded.registry.url) as server:
        yield server


@pytest.fixture
def gate(seeded: Seeded) -> Iterator[TokenGate]:
    with TokenGate(seeded.registry.url, USERNAME, PASSWORD) as server:
        yield server


def manifest_path(reference: str) -> str:
    return f"/v2/{REPOSITORY}/manifests/{reference}"


async def read_blob(
    client: UpstreamClient,
    endpoint: UpstreamEndpoint,
    digest: Digest,
    received: list[bytes] | None = None,
    *,
    pause: float = 0.0,
) -> tuple[int, str, int]:
    """(stated size, sha256 of the bytes, largest chunk) of the blob; its chunks go to `received` as they come.
    `pause`: seconds to wait after each chunk, as a reader slower than the network does."""
    tap = Sha256Tap()
    largest = 0
    async with client.open_blob(endpoint, REPOSITORY, digest) as blob:
        async for chunk in blob.chunks():
            tap.update(chunk)
            largest = max(largest, len(chunk))
            if received is not None:
                received.append(chunk)
            if pause:
                await asyncio.sleep(pause)
        return blob.size, tap.digest, largest


# -- straight to the registry ---------------------------------------------------------------------------------


async def test_manifest_by_tag_comes_with_its_digest_and_media_type(seeded: Seeded, client: UpstreamClient) -> None:
    manifest = await client.get_manifest(UpstreamEndpoint(seeded.registry.url), REPOSITORY, "v1")

    assert str(manifest.digest) == seeded.image.digest
    assert str(Digest.of(manifest.content)) == seeded.image.digest
    assert manifest.media_type == mediatypes.OCI_MANIFEST


async def test_docker_manifest_list_is_served_whole_not_as_one_of_its_images(
    seeded: Seeded, client: UpstreamClient
) -> None:
    manifest = await client.get_manifest(UpstreamEndpoint(seeded.registry.url), REPOSITORY, "list")

    assert str(manifest.digest) == seeded.index.digest
    assert manifest.media_type == mediatypes.DOCKER_MANIFEST_LIST


async def test_manifest_by_digest_is_the_manifest_of_that_digest(seeded: Seeded, client: UpstreamClient) -> None:
    child = seeded.index.platforms["linux/arm64"]

    manifest = await client.get_manifest(UpstreamEndpoint(seeded.registry.url), REPOSITORY, child)

    assert str(manifest.digest) == child
    assert manifest.media_type == mediatypes.DOCKER_MANIFEST


async def test_head_manifest_states_digest_media_type_and_size(seeded: Seeded, client: UpstreamClient) -> None:
    endpoint = UpstreamEndpoint(seeded.registry.url)
    manifest = await client.get_manifest(endpoint, REPOSITORY, "list")

    head = await client.head_manifest(endpoint, REPOSITORY, "list")

    assert (str(head.digest), head.media_type, head.size) == (
        seeded.index.digest,
        mediatypes.DOCKER_MANIFEST_LIST,
        len(manifest.content),
    )


async def test_blob_streams_in_bounded_chunks_and_hashes_to_its_digest(seeded: Seeded, client: UpstreamClient) -> None:
    # A slow reader: the connection buffers all it may between two reads.
    size, digest, largest = await read_blob(
        client, UpstreamEndpoint(seeded.registry.url), seeded.large_layer, pause=0.02
    )

    assert digest == str(seeded.large_layer)
    assert size > 4 * MAX_PIECE_BYTES
    assert largest <= MAX_PIECE_BYTES


@pytest.mark.parametrize("reference", ["nope", "sha256:" + "0" * 64], ids=["unknown tag", "unknown digest"])
async def test_unknown_manifest_is_upstream_not_found(seeded: Seeded, client: UpstreamClient, reference: str) -> None:
    with pytest.raises(UpstreamNotFound) as raised:
        await client.get_manifest(UpstreamEndpoint(seeded.registry.url), REPOSITORY, reference)

    assert raised.value.status == 404


async def test_unknown_repository_and_blob_are_upstream_not_found(seeded: Seeded, client: UpstreamClient) -> None:
    endpoint = UpstreamEndpoint(seeded.registry.url)

    with pytest.raises(UpstreamNotFound):
        await client.head_manifest(endpoint, "no/such/repository", "v1")
    with pytest.raises(UpstreamNotFound):
        async with client.open_blob(endpoint, REPOSITORY, Digest.of(b"never pushed")):
            pass
    with pytest.raises(UpstreamNotFound):
        await client.has_blob(endpoint, REPOSITORY, Digest.of(b"never pushed"))


async def test_has_blob_asks_without_the_body(seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient) -> None:
    await client.has_blob(UpstreamEndpoint(faulty.url), REPOSITORY, seeded.large_layer)

    assert faulty.requests("HEAD", f"/v2/{REPOSITORY}/blobs/{seeded.large_layer}") == 1
    assert faulty.blob_bytes(str(seeded.large_layer)) == 0


async def test_check_succeeds_against_an_open_registry(seeded: Seeded, client: UpstreamClient) -> None:
    await client.check(UpstreamEndpoint(seeded.registry.url), REPOSITORY)


async def test_nothing_listening_is_upstream_unavailable_after_the_retries(client: UpstreamClient) -> None:
    with pytest.raises(UpstreamUnavailable) as raised:
        await client.check(UpstreamEndpoint(f"http://127.0.0.1:{free_port()}"))

    assert raised.value.status is None
    assert f"after {RETRIES + 1} attempts" in str(raised.value)


# -- behind a TokenGate ---------------------------------------------------------------------------------------


def gated(gate: ReverseProxy, password: str | None = PASSWORD) -> UpstreamEndpoint:
    return UpstreamEndpoint(gate.url, None if password is None else UpstreamCredentials(USERNAME, password))


async def test_token_for_the_repository_is_fetched_once_and_reused(
    seeded: Seeded, gate: TokenGate, client: UpstreamClient
) -> None:
    endpoint = gated(gate)

    manifest = await client.get_manifest(endpoint, REPOSITORY, "v1")
    _, digest, _ = await read_blob(client, endpoint, seeded.large_layer)
    head = await client.head_manifest(endpoint, REPOSITORY, "v1")

    assert str(manifest.digest) == str(head.digest) == seeded.image.digest
    assert digest == str(seeded.large_layer)
    assert gate.token_scopes == [(f"repository:{REPOSITORY}:pull",)]


async def test_wrong_credentials_are_upstream_denied_naming_the_upstream_and_status(
    gate: TokenGate, client: UpstreamClient
) -> None:
    with pytest.raises(UpstreamDenied) as raised:
        await client.get_manifest(gated(gate, "wrong"), REPOSITORY, "v1")

    assert raised.value.status == 401
    assert gate.url in str(raised.value)
    assert "401" in str(raised.value)
    assert "wrong" not in str(raised.value)
    assert gate.passed == 0


async def test_anonymous_pull_through_a_gate_is_denied(gate: TokenGate, client: UpstreamClient) -> None:
    with pytest.raises(UpstreamDenied):
        await client.get_manifest(gated(gate, None), REPOSITORY, "v1")

    assert gate.token_requests == 1


async def test_check_validates_credentials_for_a_repository(gate: TokenGate, client: UpstreamClient) -> None:
    await client.check(gated(gate), REPOSITORY)
    with pytest.raises(UpstreamDenied):
        await client.check(gated(gate, "wrong"), REPOSITORY)

    assert gate.token_scopes == [(f"repository:{REPOSITORY}:pull",)] * 2


async def test_tokens_are_kept_apart_by_credentials(seeded: Seeded, client: UpstreamClient) -> None:
    with TokenGate(seeded.registry.url, USERNAME, PASSWORD) as gate:
        await client.get_manifest(gated(gate), REPOSITORY, "v1")
        with pytest.raises(UpstreamDenied):
            await client.get_manifest(gated(gate, "wrong"), REPOSITORY, "v1")
        await client.get_manifest(gated(gate), REPOSITORY, "v1")

        assert gate.token_requests == 2


async def test_rejected_token_is_replaced_by_a_fresh_one(gate: TokenGate, client: UpstreamClient) -> None:
    await client.get_manifest(gated(gate), REPOSITORY, "v1")
    gate.revoke_tokens()

    await client.get_manifest(gated(gate), REPOSITORY, "v1")

    assert gate.token_requests == 2


async def test_token_answered_as_access_token_is_accepted(seeded: Seeded, client: UpstreamClient) -> None:
    with TokenGate(seeded.registry.url, USERNAME, PASSWORD, token_field="access_token") as gate:
        manifest = await client.get_manifest(gated(gate), REPOSITORY, "v1")

    assert str(manifest.digest) == seeded.image.digest


async def test_basic_challenge_is_answered_with_the_credentials(seeded: Seeded, client: UpstreamClient) -> None:
    with TokenGate(seeded.registry.url, USERNAME, PASSWORD, scheme="basic") as gate:
        manifest = await client.get_manifest(gated(gate), REPOSITORY, "v1")
        with pytest.raises(UpstreamDenied):
            await client.get_manifest(gated(gate, None), REPOSITORY, "v1")
        with pytest.raises(UpstreamDenied):
            await client.get_manifest(gated(gate, "wrong"), REPOSITORY, "v1")

        assert gate.token_requests == 0
    assert str(manifest.digest) == seeded.image.digest


# -- behind a FaultyUpstream ----------------------------------------------------------------------------------


async def test_two_503s_then_success_is_retried(seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient) -> None:
    faulty.fail(MANIFEST_PATTERN, 503, times=2)

    manifest = await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert str(manifest.digest) == seeded.image.digest
    assert faulty.requests("GET", manifest_path("v1")) == 3


async def test_head_is_retried_too(seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient) -> None:
    faulty.fail(MANIFEST_PATTERN, 502, times=1, method="HEAD")

    head = await client.head_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert str(head.digest) == seeded.image.digest
    assert faulty.requests("HEAD", manifest_path("v1")) == 2


async def test_429_waits_as_long_as_retry_after_says(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.fail(MANIFEST_PATTERN, 429, times=1, retry_after=1)
    started = time.monotonic()

    manifest = await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert time.monotonic() - started >= 1.0
    assert str(manifest.digest) == seeded.image.digest


async def test_retry_after_beyond_the_cap_is_unavailable_at_once(faulty: FaultyUpstream) -> None:
    faulty.fail(MANIFEST_PATTERN, 429, times=None, retry_after=3600)

    async with UpstreamClient(retry_after_cap=5) as client:
        with pytest.raises(UpstreamUnavailable) as raised:
            await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert raised.value.status == 429
    assert faulty.requests("GET", manifest_path("v1")) == 1


async def test_always_503_is_upstream_unavailable_with_the_last_status(
    faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.go_down("503")

    with pytest.raises(UpstreamUnavailable) as raised:
        await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert raised.value.status == 503
    assert faulty.url in str(raised.value)
    assert faulty.requests("GET", manifest_path("v1")) == RETRIES + 1


async def test_refused_connections_are_unavailable_until_the_upstream_comes_back(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    endpoint = UpstreamEndpoint(faulty.url)
    await client.check(endpoint)
    faulty.go_down("refuse")

    with pytest.raises(UpstreamUnavailable) as raised:
        await client.get_manifest(endpoint, REPOSITORY, "v1")
    faulty.come_up()
    manifest = await client.get_manifest(endpoint, REPOSITORY, "v1")

    assert raised.value.status is None
    assert str(manifest.digest) == seeded.image.digest


async def test_404_is_upstream_not_found_without_retries(faulty: FaultyUpstream, client: UpstreamClient) -> None:
    faulty.fail(MANIFEST_PATTERN, 404, times=None)

    with pytest.raises(UpstreamNotFound):
        await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert faulty.requests("GET", manifest_path("v1")) == 1


@pytest.mark.parametrize(("status", "error"), [(400, UpstreamInvalid), (403, UpstreamDenied), (405, UpstreamInvalid)])
async def test_other_client_errors_keep_their_meaning(
    faulty: FaultyUpstream, client: UpstreamClient, status: int, error: type[Exception]
) -> None:
    faulty.fail(MANIFEST_PATTERN, status, times=None)

    with pytest.raises(error):
        await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert faulty.requests("GET", manifest_path("v1")) == 1


@pytest.mark.parametrize("by", ["tag", "digest"])
async def test_manifest_that_does_not_match_its_digest_is_upstream_invalid(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient, by: str
) -> None:
    faulty.corrupt(MANIFEST_PATTERN)
    reference = "v1" if by == "tag" else seeded.image.digest

    with pytest.raises(UpstreamInvalid) as raised:
        await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, reference)

    assert seeded.image.digest in str(raised.value)


async def test_manifest_larger_than_the_limit_is_upstream_invalid(seeded: Seeded) -> None:
    async with UpstreamClient(max_manifest_bytes=100) as client:
        with pytest.raises(UpstreamInvalid, match="larger than 100 bytes"):
            await client.get_manifest(UpstreamEndpoint(seeded.registry.url), REPOSITORY, "v1")


async def test_manifest_broken_off_mid_body_is_asked_for_again(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.drop_connection(MANIFEST_PATTERN, after_bytes=10)

    manifest = await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")

    assert str(manifest.digest) == seeded.image.digest
    assert faulty.requests("GET", manifest_path("v1")) == 2


async def test_blob_broken_off_after_bytes_reached_the_caller_is_unavailable_without_retry(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.drop_connection("/blobs/", after_bytes=100_000)
    received: list[bytes] = []

    with pytest.raises(UpstreamUnavailable, match="after 100000 of"):
        await read_blob(client, UpstreamEndpoint(faulty.url), seeded.large_layer, received)

    assert sum(map(len, received)) == 100_000
    assert faulty.requests("GET", f"/v2/{REPOSITORY}/blobs/{seeded.large_layer}") == 1


async def test_blob_served_through_the_proxy_is_counted_once(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    size, digest, _ = await read_blob(client, UpstreamEndpoint(faulty.url), seeded.large_layer)

    assert digest == str(seeded.large_layer)
    assert faulty.blob_bytes_served() == {str(seeded.large_layer): size}
    assert faulty.recorded()[0].headers["User-Agent"] == USER_AGENT


async def test_blob_body_is_not_verified_by_the_client(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.corrupt()

    size, digest, _ = await read_blob(client, UpstreamEndpoint(faulty.url), seeded.large_layer)

    assert digest != str(seeded.large_layer)  # the caller hashes the bytes and refuses them
    assert size == faulty.blob_bytes(str(seeded.large_layer))


async def test_redirect_to_another_origin_does_not_carry_authorization(seeded: Seeded, client: UpstreamClient) -> None:
    # client -> gate -> redirecting proxy -> registry; the redirect points at a second proxy, another origin.
    with (
        FaultyUpstream(seeded.registry.url) as storage,
        FaultyUpstream(seeded.registry.url) as redirecting,
        TokenGate(redirecting.url, USERNAME, PASSWORD) as gate,
    ):
        redirecting.redirect_blobs(storage.url)

        _, digest, _ = await read_blob(client, gated(gate), seeded.large_layer)

        [fetched] = storage.recorded()
        assert digest == str(seeded.large_layer)
        assert fetched.path == f"/v2/{REPOSITORY}/blobs/{seeded.large_layer}"
        assert "Authorization" not in fetched.headers
        assert gate.passed == 1  # the request to the gate itself carried the token


async def test_head_without_a_stated_digest_falls_back_to_a_get(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.strip_headers("Docker-Content-Digest")

    head = await client.head_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "list")

    assert (str(head.digest), head.media_type) == (seeded.index.digest, mediatypes.DOCKER_MANIFEST_LIST)
    assert faulty.requests("HEAD", manifest_path("list")) == 1
    assert faulty.requests("GET", manifest_path("list")) == 1


async def test_blob_without_a_content_length_is_upstream_invalid(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    faulty.strip_headers("Content-Length")

    with pytest.raises(UpstreamInvalid, match="without a Content-Length"):
        await read_blob(client, UpstreamEndpoint(faulty.url), seeded.large_layer)


async def test_token_realm_behind_a_proxy_is_reached_through_it_and_retried(
    seeded: Seeded, gate: TokenGate, client: UpstreamClient
) -> None:
    with FaultyUpstream(gate.url) as proxy:
        proxy.fail("^/token$", 503, times=1)

        manifest = await client.get_manifest(gated(proxy), REPOSITORY, "v1")

        assert str(manifest.digest) == seeded.image.digest
        assert proxy.requests("GET", "/token") == 2
        assert gate.token_requests == 1


async def test_throttled_upstream_serves_no_faster_than_its_rate(
    seeded: Seeded, faulty: FaultyUpstream, client: UpstreamClient
) -> None:
    rate = 1_000_000
    faulty.throttle(rate)
    started = time.monotonic()

    size, digest, _ = await read_blob(client, UpstreamEndpoint(faulty.url), seeded.large_layer)

    assert digest == str(seeded.large_layer)
    # The proxy sleeps after each piece of rate/20 bytes, so the client has every byte one sleep early.
    assert time.monotonic() - started >= (size - rate // 20) / rate


def test_faulty_upstream_serves_and_counts_for_a_sync_client(seeded: Seeded, faulty: FaultyUpstream) -> None:
    faulty.fail("/blobs/", 503, times=1)

    refused = get_blob(faulty.url, REPOSITORY, str(seeded.large_layer))
    served = get_blob(faulty.url, REPOSITORY, str(seeded.large_layer))

    assert (refused.status, served.status) == (503, 200)
    assert str(Digest.of(served.body)) == str(seeded.large_layer)
    assert faulty.blob_bytes(str(seeded.large_layer)) == len(served.body)
