"""The upstream destination policy, end to end and on loopback only: an UpstreamClient whose names a stub
resolver answers (no lookup leaves the process), listeners on 127.0.0.2 (all of 127.0.0.0/8 is loopback) standing
for the addresses an operator denies, and pullcache servers with --upstream-deny / --upstream-allow driven with
boto3 and plain HTTP.

Every refused destination is checked at its listener: it saw no request.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from pullcache.core.digests import Digest
from pullcache.pullthrough.destinations import DestinationPolicy
from pullcache.pullthrough.errors import UpstreamRefused
from pullcache.pullthrough.ports import UpstreamCredentials, UpstreamEndpoint
from pullcache.pullthrough.service import UPSTREAM_REFUSED
from pullcache.pullthrough.upstream import UpstreamClient
from testkit.aws_clients import client, client_error
from testkit.servers import PullcacheServer, free_port
from tests.integration.cached_images import get
from tests.upstreams import FaultyUpstream, TokenGate
from tests.upstreams.seeded import SeededRegistry, seeded_registry

REPOSITORY: Final = "library/app"
TAG: Final = "v1"
DENIED_HOST: Final = "127.0.0.2"
USERNAME: Final = "puller"
PASSWORD: Final = "correct horse"
OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"


class DeniedListener(FaultyUpstream):
    """A FaultyUpstream on 127.0.0.2: the address the tests deny."""

    host = DENIED_HOST


class GateWithRealmElsewhere(TokenGate):
    """A TokenGate whose challenges name a token realm at `realm_url` (a proxy in front of its own /token)."""

    realm_url = ""

    def _challenge(self, repository: str | None) -> str:
        return super()._challenge(repository).replace(self.url, self.realm_url)


@dataclass
class StubResolver(AbstractResolver):
    """Names to loopback (or refused) addresses from a table, so no lookup leaves the process."""

    table: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"no such name in the stub: {host}")
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0)
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededRegistry]:
    with seeded_registry(tmp_path_factory.mktemp("upstream-destinations"), REPOSITORY, TAG, (1024, 4096)) as seeded:
        yield seeded


@pytest.fixture
def denied(seeded: SeededRegistry) -> Iterator[DeniedListener]:
    """A registry on 127.0.0.2 (a proxy in front of the seeded one)."""
    with DeniedListener(seeded.registry.url) as listener:
        yield listener


def upstream_client(policy: DestinationPolicy | None = None, resolver: StubResolver | None = None) -> UpstreamClient:
    return UpstreamClient(retries=2, backoff_base=0.01, destinations=policy, resolver=resolver)


@pytest.fixture
async def deny_127_0_0_2() -> AsyncIterator[UpstreamClient]:
    async with upstream_client(DestinationPolicy(deny=[f"{DENIED_HOST}/32"])) as upstream:
        yield upstream


# -- the upstream client ------------------------------------------------------------------------------------------


async def test_a_name_resolving_to_a_link_local_address_is_refused_at_connection() -> None:
    resolver = StubResolver({"metadata.test": ["169.254.169.254"]})

    async with upstream_client(resolver=resolver) as upstream:
        with pytest.raises(UpstreamRefused, match=r"metadata\.test"):
            await upstream.check(UpstreamEndpoint(f"http://metadata.test:{free_port()}"))

    assert resolver.asked == ["metadata.test"]  # refused once, not retried


async def test_a_name_resolving_to_an_allowed_address_is_served(seeded: SeededRegistry) -> None:
    resolver = StubResolver({"registry.test": ["127.0.0.1"]})
    port = seeded.registry.url.rsplit(":", 1)[1]

    async with upstream_client(resolver=resolver) as upstream:
        manifest = await upstream.get_manifest(UpstreamEndpoint(f"http://registry.test:{port}"), REPOSITORY, TAG)

    assert str(manifest.digest) == seeded.image.digest


async def test_an_upstream_on_a_denied_address_is_never_asked(
    denied: DeniedListener, deny_127_0_0_2: UpstreamClient
) -> None:
    with pytest.raises(UpstreamRefused, match=r"127\.0\.0\.2"):
        await deny_127_0_0_2.get_manifest(UpstreamEndpoint(denied.url), REPOSITORY, TAG)

    assert denied.requests() == 0


async def test_a_redirect_from_an_allowed_upstream_to_a_denied_address_is_refused(
    seeded: SeededRegistry, denied: DeniedListener, deny_127_0_0_2: UpstreamClient
) -> None:
    with FaultyUpstream(seeded.registry.url) as allowed:
        allowed.redirect_blobs(denied.url)

        with pytest.raises(UpstreamRefused):
            async with deny_127_0_0_2.open_blob(UpstreamEndpoint(allowed.url), REPOSITORY, seeded.layer):
                pass

        assert allowed.requests("GET", f"/v2/{REPOSITORY}/blobs/{seeded.layer}") == 1
    assert denied.requests() == 0


async def test_a_redirect_to_a_name_resolving_to_a_link_local_address_is_refused(seeded: SeededRegistry) -> None:
    resolver = StubResolver({"metadata.test": ["169.254.169.254"]})

    with FaultyUpstream(seeded.registry.url) as allowed:
        allowed.redirect_blobs(f"http://metadata.test:{free_port()}")

        async with upstream_client(resolver=resolver) as upstream:
            with pytest.raises(UpstreamRefused, match=r"metadata\.test"):
                async with upstream.open_blob(UpstreamEndpoint(allowed.url), REPOSITORY, seeded.layer):
                    pass

    assert resolver.asked == ["metadata.test"]


async def test_a_token_realm_on_a_denied_address_is_refused(
    seeded: SeededRegistry, deny_127_0_0_2: UpstreamClient
) -> None:
    with GateWithRealmElsewhere(seeded.registry.url, USERNAME, PASSWORD) as gate, DeniedListener(gate.url) as realm:
        gate.realm_url = realm.url
        endpoint = UpstreamEndpoint(gate.url, UpstreamCredentials(USERNAME, PASSWORD))

        with pytest.raises(UpstreamRefused):
            await deny_127_0_0_2.get_manifest(endpoint, REPOSITORY, TAG)

        assert realm.requests() == 0
        assert gate.token_requests == 0


async def test_a_token_realm_on_an_allowed_address_is_reached(seeded: SeededRegistry) -> None:
    """The same gate and realm with the default policy: the refusal above is the policy's doing."""
    with GateWithRealmElsewhere(seeded.registry.url, USERNAME, PASSWORD) as gate, DeniedListener(gate.url) as realm:
        gate.realm_url = realm.url
        endpoint = UpstreamEndpoint(gate.url, UpstreamCredentials(USERNAME, PASSWORD))

        async with upstream_client() as upstream:
            manifest = await upstream.get_manifest(endpoint, REPOSITORY, TAG)

        assert str(manifest.digest) == seeded.image.digest
        assert realm.requests("GET", "/token") == 1


async def test_an_allow_list_narrows_the_upstreams_to_those_it_lists(
    seeded: SeededRegistry, denied: DeniedListener
) -> None:
    async with upstream_client(DestinationPolicy(allow=[f"{DENIED_HOST}/32"])) as upstream:
        with pytest.raises(UpstreamRefused):
            await upstream.check(UpstreamEndpoint(seeded.registry.url))
        await upstream.check(UpstreamEndpoint(denied.url))

    assert denied.requests("GET", "/v2/") == 1


# -- a server: rules, validation and pulls --------------------------------------------------------------------


def ecr_of(server: PullcacheServer) -> Any:
    return client(server, "ecr")


def pull_manifest(server: PullcacheServer, prefix: str) -> tuple[int, bytes]:
    status, body, _ = get(f"{server.url}/v2/{prefix}/{REPOSITORY}/manifests/{TAG}", {"Accept": OCI_MANIFEST})
    return status, body


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254", "169.254.169.254", "http://[fe80::1]:80", "https://[fd00:ec2::254]"]
)
def test_a_rule_to_the_metadata_address_is_refused_at_creation(pullcache: PullcacheServer, url: str) -> None:
    ecr = ecr_of(pullcache)

    status, code, message = client_error(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="meta", upstreamRegistryUrl=url)
    )

    assert (status, code) == (400, "UnsupportedUpstreamRegistryException")
    assert "not an allowed destination" in message
    assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []


def test_a_denied_upstream_is_refused_to_pulls_validation_and_new_rules(
    seeded: SeededRegistry, denied: DeniedListener, tmp_path: Path
) -> None:
    """A rule made before the operator denied its address: pulls answer an OCI error, the refusal is logged."""
    data_dir = tmp_path / "data"
    before = PullcacheServer(data_dir).start()
    try:
        ecr_of(before).create_pull_through_cache_rule(ecrRepositoryPrefix="lab", upstreamRegistryUrl=denied.url)
        assert ecr_of(before).validate_pull_through_cache_rule(ecrRepositoryPrefix="lab")["isValid"] is True
    finally:
        before.stop()
    denied.reset_counts()

    server = PullcacheServer(data_dir, extra_args=("--upstream-deny", f"{DENIED_HOST}/32")).start()
    try:
        status, body = pull_manifest(server, "lab")
        validated = ecr_of(server).validate_pull_through_cache_rule(ecrRepositoryPrefix="lab")
        refused = client_error(
            lambda: ecr_of(server).create_pull_through_cache_rule(
                ecrRepositoryPrefix="again", upstreamRegistryUrl=denied.url
            )
        )
        log = server.log()
    finally:
        server.stop()

    assert status == 503
    [error] = json.loads(body)["errors"]
    assert error["code"] == "UNSUPPORTED"  # a server's failure: registry/api/errors.py
    assert f"{DENIED_HOST} is refused" in error["message"]
    assert (validated["isValid"], validated["failure"]) == (False, UPSTREAM_REFUSED)
    assert refused[:2] == (400, "UnsupportedUpstreamRegistryException")
    warnings = [
        json.loads(line) for line in log.splitlines() if line.startswith("{") and "upstream destination" in line
    ]
    assert warnings, log
    assert warnings[0]["level"] == "warning"
    assert warnings[0]["destination"] == DENIED_HOST
    assert f"denied by the upstream deny entry {DENIED_HOST}/32" in warnings[0]["message"]
    assert denied.requests() == 0


def test_an_allow_list_from_the_environment_narrows_rules_and_pulls(
    seeded: SeededRegistry, denied: DeniedListener, tmp_path: Path
) -> None:
    server = PullcacheServer(tmp_path / "data", environment={"PULLCACHE_UPSTREAM_ALLOW": f"{DENIED_HOST}/32"}).start()
    try:
        with FaultyUpstream(seeded.registry.url) as elsewhere:
            ecr = ecr_of(server)
            literal = client_error(
                lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="one", upstreamRegistryUrl=elsewhere.url)
            )
            ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="two", upstreamRegistryUrl=denied.url)
            # A name is judged by what it resolves to, at connection: localhost is 127.0.0.1 (or ::1), not listed.
            named_url = f"http://localhost:{elsewhere.port}"
            ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="named", upstreamRegistryUrl=named_url)

            listed_status, listed_body = pull_manifest(server, "two")
            named_status, _ = pull_manifest(server, "named")
            named = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="named")

            assert elsewhere.requests() == 0
    finally:
        server.stop()

    assert literal[:2] == (400, "UnsupportedUpstreamRegistryException")
    assert listed_status == 200
    assert str(Digest.of(listed_body)) == seeded.image.digest
    assert named_status == 503
    assert (named["isValid"], named["failure"]) == (False, UPSTREAM_REFUSED)
