"""Requests of runtimes that use pullcache as a registry mirror, replayed over plain HTTP against a real server and a
real CNCF Distribution upstream: Docker's daemon on the Docker Hub mirror port (`serve --docker-hub-mirror PREFIX
--docker-hub-mirror-port PORT`), and containerd's `?ns=` requests at their edges (heads, tags, writes, this server's
own host, unknown hosts, upstream repository prefixes), who may pull what the mirror maps, and the Docker Hub
mirror port told apart over TLS (the flags' refusals: tests/unit/test_mirror_settings.py).

The runtimes themselves pull in test_mirror_runtimes.py; here each request is one the runtimes send, asserted on
status, headers and bytes. The module shares its servers: one Distribution; a closed pullcache that mirrors Docker
Hub through the rule `hub`; a closed one without a Docker Hub mirror (for the tests of who may pull, with pulls in
the audit trail); and an open one whose Docker Hub mirror prefix names no rule (for the `ns` edges). Images are a
few kilobytes.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from pullcache.core.digests import Digest
from testkit.aws_clients import ACCOUNT, client, registry_authorization, registry_password
from testkit.images import OCI, ImageTree, OciLayout, write_image
from testkit.reply import DIGEST_HEADER, Reply
from testkit.servers import DistributionServer, PullcacheServer, free_port, wait_until_serving
from testkit.sync_client import ACCEPT_MANIFESTS, error_reply, request
from tests.integration import skopeo
from tests.integration.cached_images import create_rule, wait_for_whole_image
from tests.upstreams import FaultyUpstream

APP: Final = "library/app"  # Docker Hub's name of an official image, as the upstream holds it
TEAM_TOOL: Final = "team/tool"  # under the upstream repository prefix of one rule
MINE: Final = "library/mine"  # pushed to the Docker Hub mirror itself: a local repository
TAG: Final = "v1"
SECOND_TAG: Final = "v2"  # the same image again: a second page of tags
LAYER_SIZES: Final = (512, 1024)
REGION: Final = "us-east-1"
HUB: Final = "hub"  # the rule Docker's daemon is mirrored through
QUAY: Final = "quay"  # another rule of the same server
PULL_ACTIONS: Final = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage"]
# What Docker's daemon (moby's distribution client) sends a mirror: one Accept header a manifest media type, and
# its User-Agent.
DOCKERD_ACCEPT: Final = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
)
DOCKERD_AGENT: Final = (
    "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0 os/linux arch/amd64 "
    "UpstreamClient(Docker-Client/24.0.7 \\(linux\\))"
)
NO_SUCH_RULE: Final = "nosuchrule"
NO_RULE_WARNING: Final = f"the Docker Hub mirror's rule prefix {NO_SUCH_RULE} names no pull-through cache rule"
AUDIT_WAIT: Final = 10.0  # seconds: the audit trail is written off the request path


@dataclass(frozen=True)
class Upstream:
    """The shared Distribution, what it was seeded with, and a second host in front of it."""

    registry: DistributionServer
    other: FaultyUpstream  # another host:port for the same content, for rules that must not share a host
    images: dict[str, ImageTree]  # by repository, each tagged TAG


@dataclass(frozen=True)
class Mirrored:
    """A pullcache server and its Docker Hub mirror port."""

    server: PullcacheServer
    docker_hub_port: int


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    root = tmp_path_factory.mktemp("upstream")
    registry = DistributionServer(root / "registry").start()
    try:
        images: dict[str, ImageTree] = {}
        for number, repository in enumerate((APP, TEAM_TOOL)):
            layout = OciLayout(root / f"image-{number}")
            images[repository] = write_image(layout, TAG, LAYER_SIZES, seed=300 + number, media_types=OCI)
            for tag in (TAG, SECOND_TAG):
                skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(registry.address, repository, tag))
        with FaultyUpstream(registry.url) as other:
            yield Upstream(registry, other, images)
    finally:
        registry.stop()


def start_mirroring(data_dir: Path, prefix: str, *, anonymous_registry: bool) -> Mirrored:
    port = free_port()
    server = PullcacheServer(
        data_dir,
        log_level="info",
        anonymous_registry=anonymous_registry,
        extra_args=[
            "--docker-hub-mirror",
            prefix,
            "--docker-hub-mirror-port",
            str(port),
        ],
    ).start()
    assert server.process is not None
    wait_until_serving(f"http://127.0.0.1:{port}/v2/", server.process)  # each port its own site
    return Mirrored(server, port)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Mirrored]:
    """Closed, mirroring Docker Hub through `hub`, whose repositories everyone may pull, as a cluster's nodes do:
    the registry policy lets everyone create them and import into them, the creation template gives each a
    repository policy that lets everyone pull and list tags. `quay` is another rule of the same upstream."""
    mirrored = start_mirroring(tmp_path_factory.mktemp("hub") / "data", HUB, anonymous_registry=False)
    server = mirrored.server
    try:
        create_rule(server, upstream.registry.url, prefix=HUB)
        create_rule(server, upstream.registry.url, prefix=QUAY)
        ecr = client(server, "ecr")
        ecr.put_registry_policy(policyText=policy("*", ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"], HUB))
        ecr.create_repository_creation_template(
            prefix=HUB,
            appliedFor=["PULL_THROUGH_CACHE"],
            repositoryPolicy=policy("*", [*PULL_ACTIONS, "ecr:ListImages"]),
        )
        yield mirrored
    finally:
        server.stop()


@pytest.fixture(scope="module")
def closed_cache(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[PullcacheServer]:
    """Closed, no Docker Hub mirror, pulls in the audit trail: `granted` and `other` have upstreams on two hosts."""
    server = PullcacheServer(
        tmp_path_factory.mktemp("closed") / "data", anonymous_registry=False, extra_args=["--audit-pulls"]
    ).start()
    try:
        create_rule(server, upstream.registry.url, prefix="granted")
        create_rule(server, upstream.other.url, prefix="other")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_mirror(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[Mirrored]:
    """/v2/ open to callers without credentials; its Docker Hub mirror prefix names no rule. `up` mirrors the
    upstream's host; `mirrored-team` the other host's repositories under `team/` alone."""
    mirrored = start_mirroring(tmp_path_factory.mktemp("open") / "data", NO_SUCH_RULE, anonymous_registry=True)
    try:
        create_rule(mirrored.server, upstream.registry.url, prefix="up")
        create_rule(mirrored.server, upstream.other.url, prefix="mirrored-team", upstreamRepositoryPrefix="team")
        yield mirrored
    finally:
        mirrored.server.stop()


@pytest.fixture(scope="module")
def open_cache(open_mirror: Mirrored) -> PullcacheServer:
    return open_mirror.server


def policy(principal: str, actions: list[str], prefix: str | None = None) -> str:
    """A policy letting `principal` do `actions` (on the repositories under `prefix`: a registry policy)."""
    statement: dict[str, Any] = {"Sid": "mirror", "Effect": "Allow", "Principal": principal, "Action": actions}
    if prefix is not None:
        statement["Resource"] = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{prefix}/*"
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def dockerd(port: int, method: str, path: str, *, manifest: bool = False) -> Reply:
    """A request as Docker's daemon sends it to its mirror at `port`: no credentials, its User-Agent, and for a
    manifest one Accept header a media type (urllib cannot repeat a header)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("User-Agent", DOCKERD_AGENT)
        for media_type in DOCKERD_ACCEPT if manifest else ():
            connection.putheader("Accept", media_type)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        return Reply(method, response.status, CIMultiDictProxy(CIMultiDict(response.getheaders())), body)
    finally:
        connection.close()


def get(server: PullcacheServer, path: str, method: str = "GET", authorization: str | None = None) -> Reply:
    headers = {"Accept": ACCEPT_MANIFESTS}
    if authorization is not None:
        headers["Authorization"] = authorization
    return request(method, f"{server.url}{path}", headers)


def send(method: str, url: str, headers: dict[str, str], body: bytes) -> Reply:
    outgoing = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            return Reply(
                method, response.status, CIMultiDictProxy(CIMultiDict(response.headers.items())), response.read()
            )
    except urllib.error.HTTPError as error:
        return error_reply(method, error)


def repositories(server: PullcacheServer) -> set[str]:
    found = client(server, "ecr").describe_repositories()["repositories"]
    return {repository["repositoryName"] for repository in found}


def image_digests(server: PullcacheServer, repository: str) -> set[str]:
    details = client(server, "ecr").describe_images(repositoryName=repository)["imageDetails"]
    return {detail["imageDigest"] for detail in details}


def error_of(reply: Reply) -> tuple[int, str, str]:
    [error] = reply.json()["errors"]
    return reply.status, error["code"], error["message"]


def small_image() -> tuple[bytes, bytes]:
    """An image of one config and no layer: its config, and its manifest."""
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI.manifest,
        "config": {"mediaType": OCI.config, "digest": str(Digest.of(config)), "size": len(config)},
        "layers": [],
    }
    return config, json.dumps(manifest).encode()


def push_small_image(base_url: str, repository: str, query: str = "") -> tuple[Reply, Reply, bytes]:
    """A monolithic blob upload and a manifest PUT (each with `query` added): their answers, and the manifest."""
    config, manifest = small_image()
    digest = str(Digest.of(config))
    upload = send(
        "POST",
        f"{base_url}/v2/{repository}/blobs/uploads/?digest={digest}{query and '&' + query}",
        {"Content-Type": "application/octet-stream", "Content-Length": str(len(config))},
        config,
    )
    put = send(
        "PUT",
        f"{base_url}/v2/{repository}/manifests/{TAG}{query and '?' + query}",
        {"Content-Type": OCI.manifest},
        manifest,
    )
    return upload, put, manifest


# -- Docker's daemon, on the Docker Hub mirror port --------------------------------------------------------------


def test_dockerd_pulls_docker_hub_names_from_the_mirror_rule_without_credentials(
    upstream: Upstream, hub: Mirrored
) -> None:
    image = upstream.images[APP]
    port = hub.docker_hub_port

    version = dockerd(port, "GET", "/v2/")
    head = dockerd(port, "HEAD", f"/v2/{APP}/manifests/{TAG}", manifest=True)
    tagged = dockerd(port, "GET", f"/v2/{APP}/manifests/{TAG}", manifest=True)
    by_digest = dockerd(port, "GET", f"/v2/{APP}/manifests/{image.digest}", manifest=True)

    assert version.status == 200, version
    assert version.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert (head.status, head.headers.get(DIGEST_HEADER), head.body) == (200, image.digest, b""), head
    assert tagged.status == 200, tagged
    assert tagged.headers[DIGEST_HEADER] == str(Digest.of(tagged.body)) == image.digest
    assert by_digest.body == tagged.body
    manifest = tagged.json()
    for blob in (manifest["config"], *manifest["layers"]):
        fetched = dockerd(port, "GET", f"/v2/{APP}/blobs/{blob['digest']}")
        assert fetched.status == 200, fetched
        assert str(Digest.of(fetched.body)) == blob["digest"]
        assert len(fetched.body) == blob["size"]
    assert image.digest in image_digests(hub.server, f"{HUB}/{APP}")
    # The bare name is Docker Hub's `library/` name: the same repository, nothing new.
    bare = dockerd(port, "GET", f"/v2/app/manifests/{TAG}", manifest=True)
    assert (bare.status, bare.headers.get(DIGEST_HEADER)) == (200, image.digest), bare
    assert {name for name in repositories(hub.server) if "app" in name} == {f"{HUB}/{APP}"}


def test_the_docker_hub_mirror_port_pages_tags_with_links_it_serves(hub: Mirrored) -> None:
    """`docker pull --all-tags` lists the tags through the mirror, following each page's Link on the same port."""
    port = hub.docker_hub_port
    for tag in (TAG, SECOND_TAG):
        pulled = dockerd(port, "GET", f"/v2/{APP}/manifests/{tag}", manifest=True)
        assert pulled.status == 200, pulled

    first = dockerd(port, "GET", f"/v2/{APP}/tags/list?n=1")
    assert first.status == 200, first
    assert first.json()["tags"] == [TAG]
    link = first.headers["Link"]
    second = dockerd(port, "GET", link[link.index("<") + 1 : link.index(">")])

    assert second.status == 200, (link, second)
    assert second.json()["tags"] == [SECOND_TAG]


def test_the_api_port_serves_names_as_named_and_asks_for_credentials_beside_the_docker_hub_mirror_port(
    upstream: Upstream, hub: Mirrored, tmp_path: Path
) -> None:
    server = hub.server
    authorization = registry_authorization(server)
    layout = OciLayout(tmp_path / "mine")
    mine = write_image(layout, TAG, LAYER_SIZES, seed=350, media_types=OCI)
    skopeo.run(
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"AWS:{registry_password(server)}",
        layout.reference(TAG),
        skopeo.docker_reference(server.address, MINE, TAG),
    )

    version = dockerd(server.port, "GET", "/v2/")
    anonymous = dockerd(server.port, "GET", f"/v2/{APP}/manifests/{TAG}", manifest=True)
    as_named = get(server, f"/v2/{APP}/manifests/{TAG}", authorization=authorization)
    local = get(server, f"/v2/{MINE}/manifests/{TAG}", authorization=authorization)
    other_rule = get(server, f"/v2/{QUAY}/{APP}/manifests/{TAG}", authorization=authorization)
    # On the mirror port every name is Docker Hub's: `library/mine` too is hub's (which the upstream lacks).
    mirrored = dockerd(hub.docker_hub_port, "GET", f"/v2/{MINE}/manifests/{TAG}", manifest=True)

    assert version.status == 401, version
    assert version.headers["WWW-Authenticate"].startswith("Basic ")
    assert anonymous.status == 401, anonymous
    assert as_named.status == 404, as_named
    assert as_named.error_codes == ["NAME_UNKNOWN"]
    assert (local.status, local.headers.get(DIGEST_HEADER)) == (200, mine.digest), local
    assert (other_rule.status, other_rule.headers.get(DIGEST_HEADER)) == (200, upstream.images[APP].digest)
    assert mirrored.status == 404, mirrored
    assert mirrored.headers.get(DIGEST_HEADER) != mine.digest
    names = repositories(server)
    assert {MINE, f"{QUAY}/{APP}"} <= names
    assert f"{HUB}/{QUAY}/{APP}" not in names


def test_the_docker_hub_mirror_port_takes_no_push(hub: Mirrored) -> None:
    base = f"http://127.0.0.1:{hub.docker_hub_port}"
    authorization = registry_authorization(hub.server)
    config, _ = small_image()

    refused = send(
        "POST",
        f"{base}/v2/pushed/app/blobs/uploads/?digest={Digest.of(config)}",
        {"Content-Type": "application/octet-stream", "Authorization": authorization},
        config,
    )

    status, code, message = error_of(refused)
    assert (status, code) == (400, "UNSUPPORTED")
    assert "push to the registry's own port" in message
    assert "pushed/app" not in repositories(hub.server)


def test_a_docker_hub_mirror_prefix_no_rule_has_is_name_unknown_with_a_warning(
    upstream: Upstream, open_mirror: Mirrored
) -> None:
    server = open_mirror.server
    mark = len(server.log())

    unmapped = dockerd(open_mirror.docker_hub_port, "GET", f"/v2/{APP}/manifests/{TAG}", manifest=True)
    named = dockerd(server.port, "GET", f"/v2/up/{APP}/manifests/{TAG}", manifest=True)

    assert unmapped.status == 404, unmapped
    assert unmapped.error_codes == ["NAME_UNKNOWN"]
    assert (named.status, named.headers.get(DIGEST_HEADER)) == (200, upstream.images[APP].digest), named
    assert NO_RULE_WARNING in server.log()[mark:]


# -- containerd's ns at its edges --------------------------------------------------------------------------------


def test_a_head_of_a_manifest_with_ns_answers_its_digest_and_tags_list_lists_the_cached_repository(
    upstream: Upstream, open_cache: PullcacheServer
) -> None:
    ns = f"ns={upstream.registry.address}"
    image = upstream.images[APP]

    head = get(open_cache, f"/v2/{APP}/manifests/{TAG}?{ns}", method="HEAD")
    assert (head.status, head.headers.get(DIGEST_HEADER), head.body) == (200, image.digest, b""), head
    pulled = get(open_cache, f"/v2/{APP}/manifests/{TAG}?{ns}")
    assert pulled.status == 200, pulled
    wait_for_whole_image(open_cache, f"up/{APP}")
    tags = get(open_cache, f"/v2/{APP}/tags/list?{ns}")

    assert tags.status == 200, tags
    # The name is that of the repository served, not the one in the path.
    assert tags.json() == {"name": f"up/{APP}", "tags": [TAG]}


def test_writes_with_ns_act_on_the_repository_of_their_path(upstream: Upstream, open_cache: PullcacheServer) -> None:
    ns = f"ns={upstream.registry.address}"

    upload, put, manifest = push_small_image(open_cache.url, "pushed/ns", ns)
    as_named = get(open_cache, f"/v2/pushed/ns/manifests/{TAG}")
    mirrored = get(open_cache, f"/v2/pushed/ns/manifests/{TAG}?{ns}")  # a read with ns: the upstream's

    assert upload.status == 201, upload
    assert upload.headers["Location"].startswith("/v2/pushed/ns/blobs/")
    assert put.status == 201, put
    assert put.headers["Location"].startswith("/v2/pushed/ns/manifests/")
    assert (as_named.status, as_named.body) == (200, manifest)
    assert mirrored.status == 404, mirrored
    names = repositories(open_cache)
    assert "pushed/ns" in names
    assert "up/pushed/ns" not in names


def test_ns_naming_this_server_serves_the_repository_of_the_path(
    upstream: Upstream, open_cache: PullcacheServer
) -> None:
    path = f"/v2/up/{APP}/manifests/{TAG}"

    own = get(open_cache, f"{path}?ns={open_cache.address}")
    upstreams = get(open_cache, f"{path}?ns={upstream.registry.address}")  # the upstream's `up/library/app`

    assert (own.status, own.headers.get(DIGEST_HEADER)) == (200, upstream.images[APP].digest), own
    assert upstreams.status == 404, upstreams


def test_ns_naming_a_host_no_rule_has_is_name_unknown_naming_the_host(open_cache: PullcacheServer) -> None:
    unknown = f"127.0.0.1:{free_port()}"

    reply = get(open_cache, f"/v2/{APP}/manifests/{TAG}?ns={unknown}")

    status, code, message = error_of(reply)
    assert (status, code) == (404, "NAME_UNKNOWN")
    assert f"no pull-through cache rule of registry {ACCOUNT} serves {APP} of {unknown}" in message
    for junk in ("%00", "a" * 300, "host/path"):  # not a host: refused as such, never echoed
        status, code, message = error_of(get(open_cache, f"/v2/{APP}/manifests/{TAG}?ns={junk}"))
        assert (status, code) == (400, "UNSUPPORTED")
        assert "a host with an optional port" in message


def test_ns_of_a_rule_with_an_upstream_repository_prefix_maps_only_names_under_that_prefix(
    upstream: Upstream, open_cache: PullcacheServer
) -> None:
    ns = f"ns={upstream.other.address}"
    image = upstream.images[TEAM_TOOL]

    under = get(open_cache, f"/v2/{TEAM_TOOL}/manifests/{TAG}?{ns}")
    outside = get(open_cache, f"/v2/{APP}/manifests/{TAG}?{ns}")

    assert (under.status, under.headers.get(DIGEST_HEADER)) == (200, image.digest), under
    assert image.digest in image_digests(open_cache, "mirrored-team/tool")
    status, code, message = error_of(outside)
    assert (status, code) == (404, "NAME_UNKNOWN")
    assert upstream.other.address in message


# -- who may pull, and what the audit trail says ---------------------------------------------------------------


def test_access_and_the_audit_trail_see_the_repository_an_ns_request_is_served_from(
    upstream: Upstream, closed_cache: PullcacheServer
) -> None:
    """The user may pull (and import) under `granted/` alone; both hosts serve the same `library/app`."""
    iam = client(closed_cache, "iam")
    iam.create_user(UserName="node")
    iam.put_user_policy(
        UserName="node",
        PolicyName="granted-pulls",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [*PULL_ACTIONS, "ecr:CreateRepository"],
                        "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/granted/*",
                    },
                    {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="node")["AccessKey"]
    authorization = registry_authorization(
        closed_cache, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    path = f"/v2/{APP}/manifests/{TAG}"

    granted = get(closed_cache, f"{path}?ns={upstream.registry.address}", authorization=authorization)
    refused = get(closed_cache, f"{path}?ns={upstream.other.address}", authorization=authorization)

    assert (granted.status, granted.headers.get(DIGEST_HEADER)) == (200, upstream.images[APP].digest), granted
    assert refused.status == 403, refused
    assert refused.error_codes == ["DENIED"]
    assert f"repository/other/{APP}" in error_of(refused)[2]
    recorded = audited_pulls(closed_cache, expected=2)
    assert [(event["requestParameters"]["repositoryName"], event.get("errorCode")) for event in recorded] == [
        (f"granted/{APP}", None),
        (f"other/{APP}", recorded[1].get("errorCode")),
    ]
    assert recorded[1].get("errorCode") is not None
    assert all(event["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/node" for event in recorded)


def audited_pulls(server: PullcacheServer, expected: int) -> list[dict[str, Any]]:
    """The BatchGetImage events of the audit trail, once `expected` of them are written (bounded wait)."""
    trail = server.data_dir / "audit" / "audit.log"
    deadline = time.monotonic() + AUDIT_WAIT
    while True:
        lines = trail.read_text().splitlines() if trail.exists() else []
        events = [json.loads(line) for line in lines]
        pulls = [event for event in events if event["eventName"] == "BatchGetImage"]
        if len(pulls) >= expected or time.monotonic() > deadline:
            return pulls
        time.sleep(0.05)


# -- over TLS ------------------------------------------------------------------------------------------------------


def test_over_tls_the_docker_hub_mirror_port_is_told_from_the_api_port(tmp_path: Path) -> None:
    """Over TLS the event loop sees a relayed socket pair, not the port the client came to: the relay says it."""
    port = free_port()
    server = PullcacheServer(
        tmp_path / "data",
        tls_self_signed=True,
        anonymous_registry=False,
        extra_args=["--docker-hub-mirror", HUB, "--docker-hub-mirror-port", str(port)],
    ).start()
    try:
        assert server.ca_file is not None
        context = ssl.create_default_context(cafile=str(server.ca_file))
        answers = {}
        for label, url in (("mirror", f"https://127.0.0.1:{port}/v2/"), ("api", f"{server.url}/v2/")):
            try:
                with urllib.request.urlopen(url, context=context, timeout=30) as response:
                    answers[label] = response.status
            except urllib.error.HTTPError as error:
                answers[label] = error.code
    finally:
        server.stop()

    assert answers == {"mirror": 200, "api": 401}
