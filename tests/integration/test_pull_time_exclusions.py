"""Pull time update exclusions applied: pulls by a principal registered with RegisterPullTimeUpdateExclusion
(boto3) count in `pullcache repositories` but move no lastRecordedPullTime in DescribeImages; pulls by anyone else
move it. A role's exclusion covers its sessions, pulling over /v2/ with a token of GetAuthorizationToken or with
BatchGetImage.

The server flushes pulls, and reads the exclusions again, every FLUSH_INTERVAL seconds. /v2/ without credentials
is the root user's (--anonymous-registry), which pushes the images and makes the pulls that are not excluded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import pytest

from testkit.aws_clients import ECR_READ_ONLY, client, signed_by
from testkit.images import OciLayout, write_image
from testkit.servers import PullcacheServer
from testkit.sync_client import ACCEPT_MANIFESTS
from tests.integration import skopeo
from tests.integration.test_pull_records import described, eventually

FLUSH_INTERVAL: Final = 0.2
SETTLE: Final = 5 * FLUSH_INTERVAL  # long enough for a flush to have read the exclusions again


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(
        tmp_path_factory.mktemp("exclusions") / "data", extra_args=("--pull-flush-interval", str(FLUSH_INTERVAL))
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture
def repository() -> str:
    return f"team/{uuid.uuid4().hex[:12]}"


def push_image(server: PullcacheServer, repository: str, directory: Path, seed: int) -> None:
    layout = OciLayout(directory)
    write_image(layout, "v1", (512, 1024), seed=seed)
    skopeo.run(
        "copy",
        "--quiet",
        "--preserve-digests",
        *skopeo.NO_TLS,
        layout.reference("v1"),
        skopeo.docker_reference(server.address, repository, "v1"),
    )


def pull_manifest(server: PullcacheServer, repository: str, ecr_client: Any | None = None) -> None:
    """One GET of `repository:v1`'s manifest: with the token `ecr_client`'s caller obtains, or as the root user."""
    headers = {"Accept": ACCEPT_MANIFESTS}
    if ecr_client is not None:
        data = ecr_client.get_authorization_token()["authorizationData"][0]
        headers["Authorization"] = f"Basic {data['authorizationToken']}"
    outgoing = urllib.request.Request(f"{server.url}/v2/{repository}/manifests/v1", headers=headers)
    with urllib.request.urlopen(outgoing, timeout=10) as response:
        assert response.status == 200


def pull_count(server: PullcacheServer, repository: str) -> str:
    """The pull count `pullcache repositories` shows for `repository` (`3 pulls`)."""
    done = subprocess.run(
        [sys.executable, "-m", "pullcache", "repositories", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = {line.split("\t")[0]: line.split("\t") for line in done.stdout.splitlines()}
    return lines[repository][2]


def allow(*actions: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


def user_with_key(iam: Any, name: str, *managed: str, inline: str | None = None) -> tuple[str, Mapping[str, str]]:
    """A new IAM user's ARN and access key."""
    arn: str = iam.create_user(UserName=name)["User"]["Arn"]
    for policy in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=policy)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-inline", PolicyDocument=inline)
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key


def role_session(server: PullcacheServer, iam: Any, name: str) -> tuple[str, Mapping[str, Any]]:
    """A new role with ECR read access, and the credentials of a session of it assumed by a user it trusts."""
    user_arn, key = user_with_key(iam, f"{name}-assumer", inline=allow("sts:AssumeRole"))
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
    }
    role_arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=ECR_READ_ONLY)
    session = signed_by(server, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="nightly-scan")
    return role_arn, session["Credentials"]


def test_pulls_by_a_session_of_an_excluded_role_count_but_move_no_pull_time(
    server: PullcacheServer, iam: Any, ecr: Any, repository: str, tmp_path: Path
) -> None:
    push_image(server, repository, tmp_path / "image", seed=81)
    role_arn, credentials = role_session(server, iam, "scanner")
    ecr.register_pull_time_update_exclusion(principalArn=role_arn)
    time.sleep(SETTLE)
    as_session = signed_by(server, "ecr", credentials)
    caller = signed_by(server, "sts", credentials).get_caller_identity()["Arn"]

    pull_manifest(server, repository, as_session)
    [image] = as_session.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": "v1"}])["images"]
    counted = eventually(lambda: pull_count(server, repository), lambda count: count == "2 pulls")
    time.sleep(SETTLE)
    after_excluded = described(ecr, repository)
    pull_manifest(server, repository)  # the root user: not excluded
    after_root = eventually(lambda: described(ecr, repository), lambda image: "lastRecordedPullTime" in image)

    assert caller == "arn:aws:sts::000000000000:assumed-role/scanner/nightly-scan"
    assert image["imageId"]["imageTag"] == "v1"
    assert counted == "2 pulls"
    assert "lastRecordedPullTime" not in after_excluded
    assert "lastRecordedPullTime" in after_root
    assert eventually(lambda: pull_count(server, repository), lambda count: count == "3 pulls") == "3 pulls"


def test_a_deregistered_user_moves_the_pull_time_again(
    server: PullcacheServer, iam: Any, ecr: Any, repository: str, tmp_path: Path
) -> None:
    push_image(server, repository, tmp_path / "image", seed=82)
    user_arn, key = user_with_key(iam, "auditor", ECR_READ_ONLY)
    as_user = signed_by(server, "ecr", key)
    ecr.register_pull_time_update_exclusion(principalArn=user_arn)
    time.sleep(SETTLE)

    pull_manifest(server, repository, as_user)
    counted = eventually(lambda: pull_count(server, repository), lambda count: count == "1 pulls")
    time.sleep(SETTLE)
    while_excluded = described(ecr, repository)
    ecr.deregister_pull_time_update_exclusion(principalArn=user_arn)
    time.sleep(SETTLE)
    pull_manifest(server, repository, as_user)
    after = eventually(lambda: described(ecr, repository), lambda image: "lastRecordedPullTime" in image)

    assert counted == "1 pulls"
    assert "lastRecordedPullTime" not in while_excluded
    assert "lastRecordedPullTime" in after
    assert eventually(lambda: pull_count(server, repository), lambda count: count == "2 pulls") == "2 pulls"
