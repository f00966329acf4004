"""The URIs and URLs the ECR API hands out point at this server: what CreateRepository returns is pushed to as is.

Three servers: the default (the host the API call arrived at), `--public-host` (a name other than the one the
call used) and `--registry-domain` (ECR's host form, `<account>.dkr.ecr.<region>.<domain>`). Names under the
test domain resolve nowhere, so skopeo reaches them through an HTTP proxy that is the server itself: Go sends a
proxied request to the proxy with the registry's host in the request line and the Host header, which is all a
registry host ever is to /v2/.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest

from pullcache.core.digests import Digest
from testkit.aws_clients import ACCOUNT, cli_json, client, registry_password
from testkit.images import OciLayout, write_image
from testkit.servers import PullcacheServer
from testkit.sync_client import request
from tests.integration import skopeo

DOMAIN: Final = "pullcache.test"
OTHER_REGION: Final = "eu-west-1"


def start(tmp_path_factory: pytest.TempPathFactory, *options: str) -> PullcacheServer:
    data = tmp_path_factory.mktemp("public-hosts") / "data"
    return PullcacheServer(data, anonymous_registry=False, extra_args=options).start()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = start(tmp_path_factory)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def public_host_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    server = PullcacheServer(tmp_path_factory.mktemp("public-host") / "data", anonymous_registry=False)
    # The API is called at 127.0.0.1; the registry is named `localhost`, which resolves to the same server.
    server.extra_args = ("--public-host", f"localhost:{server.port}")
    running = server.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def domain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = start(tmp_path_factory, "--registry-domain", DOMAIN)
    yield running
    running.stop()


def push_to(uri: str, server: PullcacheServer, tmp_path: Path, password: str) -> str:
    """skopeo copy of a small image to `docker://<uri>:1.0`, logged in as ECR's users are; returns its digest.
    Hosts under DOMAIN go through the server as their HTTP proxy."""
    layout = OciLayout(tmp_path / f"image-{uuid.uuid4().hex[:8]}")
    written = write_image(layout, "1.0", (512, 2048), seed=11)
    environment: Mapping[str, str] = {**os.environ, "HTTP_PROXY": server.url, "http_proxy": server.url}
    environment = {k: v for k, v in environment.items() if k.lower() not in ("no_proxy", "https_proxy")}
    binary = shutil.which("skopeo")
    assert binary is not None, "skopeo is not installed"
    done = subprocess.run(
        [
            binary,
            "--insecure-policy",
            "copy",
            "--quiet",
            "--preserve-digests",
            *skopeo.NO_TLS,
            "--dest-creds",
            f"AWS:{password}",
            layout.reference("1.0"),
            f"docker://{uri}:1.0",
        ],
        env=environment,
        capture_output=True,
        timeout=skopeo.TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return written.digest


def host_of(uri: str) -> str:
    return uri.split("/", 1)[0]


def check_pushable(server: PullcacheServer, tmp_path: Path, expected_host: str, region: str = "us-east-1") -> None:
    """CreateRepository (boto3) hands out `<expected_host>/<name>`, the aws CLI describes the same URI, the token's
    proxyEndpoint and a layer's downloadUrl are on that host, and skopeo pushes to the URI as it is: the image
    lands in the repository ECR's API describes."""
    ecr = client(server, "ecr", region_name=region)
    name = f"team/{uuid.uuid4().hex[:12]}"

    created = ecr.create_repository(repositoryName=name)["repository"]
    uri = created["repositoryUri"]
    described = cli_json(server, "ecr", "describe-repositories", "--repository-names", name, "--region", region)[
        "repositories"
    ]
    data = ecr.get_authorization_token()["authorizationData"][0]
    digest = push_to(uri, server, tmp_path, registry_password(server, region_name=region))
    images = ecr.describe_images(repositoryName=name)["imageDetails"]
    [image] = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "1.0"}])["images"]
    layer = json.loads(image["imageManifest"])["layers"][0]["digest"]
    download = ecr.get_download_url_for_layer(repositoryName=name, layerDigest=layer)["downloadUrl"]

    assert uri == f"{expected_host}/{name}"
    assert created["registryId"] == ACCOUNT
    assert [r["repositoryUri"] for r in described] == [uri]
    assert data["proxyEndpoint"] == f"http://{expected_host}"
    assert [(i["imageDigest"], i["imageTags"]) for i in images] == [(digest, ["1.0"])]
    assert download.startswith(f"http://{expected_host}/v2/{name}/blobs/{layer}?grant=")
    fetched = request("GET", download.replace(f"http://{expected_host}", server.url, 1), {"Host": expected_host})
    assert (fetched.status, str(Digest.of(fetched.body))) == (200, layer)


def test_a_repository_uri_names_the_host_the_api_call_arrived_at(
    default_server: PullcacheServer, tmp_path: Path
) -> None:
    check_pushable(default_server, tmp_path, default_server.address)


def test_a_repository_uri_names_the_public_host_when_one_is_set(
    public_host_server: PullcacheServer, tmp_path: Path
) -> None:
    check_pushable(public_host_server, tmp_path, f"localhost:{public_host_server.port}")


def test_a_repository_uri_names_the_registrys_ecr_host_under_the_registry_domain(
    domain_server: PullcacheServer, tmp_path: Path
) -> None:
    check_pushable(domain_server, tmp_path, f"{ACCOUNT}.dkr.ecr.us-east-1.{DOMAIN}:{domain_server.port}")


def test_a_repository_of_another_region_is_pushed_to_that_regions_registry(
    domain_server: PullcacheServer, tmp_path: Path
) -> None:
    check_pushable(
        domain_server, tmp_path, f"{ACCOUNT}.dkr.ecr.{OTHER_REGION}.{DOMAIN}:{domain_server.port}", OTHER_REGION
    )


def test_another_accounts_repository_uri_names_that_accounts_registry(default_server: PullcacheServer) -> None:
    """Not the default registry: its ECR-form host over the host the call arrived at, which /v2/ maps back to it."""
    other = "111122223333"
    subprocess.run(  # the account, as `pullcache accounts create` makes it beside a running server
        [sys.executable, "-m", "pullcache", "accounts", "create", other, "--data-dir", str(default_server.data_dir)],
        capture_output=True,
        timeout=60,
        check=True,
    )
    keys = configparser.ConfigParser()
    keys.read(default_server.data_dir / "accounts" / other / "credentials")
    ecr: Any = client(
        default_server,
        "ecr",
        aws_access_key_id=keys["default"]["aws_access_key_id"],
        aws_secret_access_key=keys["default"]["aws_secret_access_key"],
    )
    name = f"team/{uuid.uuid4().hex[:12]}"

    created = ecr.create_repository(repositoryName=name)["repository"]
    ecr.set_repository_policy(  # the default account may describe it: a cross-account call with registryId
        repositoryName=name,
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "ecr:DescribeRepositories",
                    }
                ],
            }
        ),
    )
    [described] = client(default_server, "ecr").describe_repositories(registryId=other, repositoryNames=[name])[
        "repositories"
    ]

    assert (created["registryId"], described["registryId"]) == (other, other)
    assert created["repositoryUri"] == f"{other}.dkr.ecr.us-east-1.{default_server.address}/{name}"
    assert described["repositoryUri"] == created["repositoryUri"]
