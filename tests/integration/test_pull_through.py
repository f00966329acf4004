"""The pull path of the pull-through cache with real parts: CNCF Distribution as the upstream, seeded with skopeo;
skopeo and plain HTTP pulling through pullcache; boto3 for the rules, secrets and roles.

The pullcache servers here leave /v2/ open to callers without credentials (they act as the account's root user)
unless a test is about who may import.
"""

from __future__ import annotations

import concurrent.futures
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from testkit.aws_clients import ACCOUNT, ECR_READ_ONLY, client, registry_authorization
from testkit.images import OCI, OciLayout, write_image
from testkit.servers import DistributionServer, PullcacheServer
from testkit.sync_client import read_registry_tree
from tests.integration import skopeo
from tests.integration.cached_images import (
    CACHED,
    PREFIX,
    TAG,
    UPSTREAM_REPOSITORY,
    blob_file,
    create_rule,
    get,
    image_blobs,
    seed,
    wait_for_whole_image,
)
from tests.integration.image_cases import IMAGE_CASES, ImageCase
from tests.upstreams import FaultyUpstream, TokenGate

ROLE: Final = "AWSServiceRoleForECRPullThroughCache"


@pytest.mark.parametrize("case", [IMAGE_CASES[0], IMAGE_CASES[3]], ids=str)
def test_a_pull_under_a_rule_imports_the_image_with_the_upstreams_digests(
    case: ImageCase, upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    written = seed(upstream, tmp_path, case)
    create_rule(pullcache, upstream.url)

    skopeo.copy_all(
        skopeo.docker_reference(pullcache.address, CACHED, TAG), case.layout(tmp_path / "pulled").reference(TAG)
    )

    assert read_registry_tree(pullcache.url, CACHED, TAG) == written
    ecr = client(pullcache, "ecr")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert CACHED in names
    digests = {d["imageDigest"] for d in ecr.describe_images(repositoryName=CACHED)["imageDetails"]}
    assert written.digest in digests


def test_an_image_pulled_once_keeps_pulling_when_the_upstream_is_down(
    upstream: DistributionServer, tmp_path: Path
) -> None:
    """With a TTL of 0 every pull asks the upstream: stopped, it cannot answer, and the cached copy is served."""
    server = PullcacheServer(tmp_path / "data", extra_args=("--tag-ttl", "0")).start()
    try:
        written = seed(upstream, tmp_path)
        create_rule(server, upstream.url)
        assert read_registry_tree(server.url, CACHED, TAG) == written
        wait_for_whole_image(server, CACHED)
        upstream.stop()
        assert read_registry_tree(server.url, CACHED, TAG) == written
        assert f"serving the cached {CACHED}:{TAG}" in server.log()  # the event is logged
        by_digest = skopeo.inspect_raw(skopeo.docker_reference(server.address, CACHED, written.digest))
        assert str(Digest.of(by_digest)) == written.digest
    finally:
        server.stop()


def test_a_new_image_under_a_cached_tag_is_found_once_the_ttl_has_passed(
    upstream: DistributionServer, tmp_path: Path
) -> None:
    server = PullcacheServer(tmp_path / "data", extra_args=("--tag-ttl", "0")).start()
    try:
        seed(upstream, tmp_path, seed_value=1)
        create_rule(server, upstream.url)
        read_registry_tree(server.url, CACHED, TAG)
        newer = seed(upstream, tmp_path, seed_value=2)
        assert read_registry_tree(server.url, CACHED, TAG) == newer
    finally:
        server.stop()


def test_the_whole_image_lands_in_the_cache_after_its_manifest_is_pulled(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    seed(upstream, tmp_path)
    create_rule(pullcache, upstream.url)
    blobs = image_blobs(pullcache, CACHED)  # only the manifest: no blob is asked for
    wait_for_whole_image(pullcache, CACHED)
    for blob in blobs:
        assert blob_file(pullcache, blob["digest"]).stat().st_size == blob["size"]


def test_a_corrupting_upstream_fails_the_pull_and_nothing_is_stored(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    seed(upstream, tmp_path)
    with FaultyUpstream(upstream.url) as faulty:
        faulty.corrupt()
        create_rule(pullcache, faulty.url)
        with pytest.raises(skopeo.SkopeoFailed):
            skopeo.copy_all(
                skopeo.docker_reference(pullcache.address, CACHED, TAG), OciLayout(tmp_path / "out").reference(TAG)
            )
        for blob in image_blobs(pullcache, CACHED):
            assert not blob_file(pullcache, blob["digest"]).exists()


def test_a_server_killed_mid_import_restarts_clean_and_serves_nothing_partial(
    upstream: DistributionServer, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "big")
    written = write_image(layout, TAG, (6 << 20,), seed=9, media_types=OCI)
    skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, TAG))
    with FaultyUpstream(upstream.url) as faulty:
        faulty.throttle(1 << 20)
        server = PullcacheServer(tmp_path / "data").start()
        create_rule(server, faulty.url)
        blobs = image_blobs(server, CACHED)
        layer = max(blobs, key=lambda blob: blob["size"])
        time.sleep(0.5)  # the background fill is under way
        server.stop(signal.SIGKILL)
        assert not blob_file(server, layer["digest"]).exists()
        faulty.throttle(None)
        server.start()
        try:
            assert read_registry_tree(server.url, CACHED, TAG) == written
            assert blob_file(server, layer["digest"]).stat().st_size == layer["size"]
        finally:
            server.stop()


def test_a_caller_allowed_only_to_read_cannot_import(upstream: DistributionServer, tmp_path: Path) -> None:
    seed(upstream, tmp_path)
    server = PullcacheServer(tmp_path / "data", anonymous_registry=False).start()
    try:
        create_rule(server, upstream.url)
        iam = client(server, "iam")
        iam.create_user(UserName="reader")
        iam.attach_user_policy(UserName="reader", PolicyArn=ECR_READ_ONLY)
        keys = iam.create_access_key(UserName="reader")["AccessKey"]
        reader = {"aws_access_key_id": keys["AccessKeyId"], "aws_secret_access_key": keys["SecretAccessKey"]}
        deadline = time.monotonic() + 10
        while True:  # a new key works as soon as IAM answers; bounded for safety
            try:
                authorization = registry_authorization(server, **reader)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        url = f"{server.url}/v2/{CACHED}/manifests/{TAG}"
        status, body, _ = get(url, {"Authorization": authorization})
        assert status == 403
        assert json.loads(body)["errors"][0]["code"] == "DENIED"
        assert "ecr:BatchImportUpstreamImage" in json.loads(body)["errors"][0]["message"]
        names = [r["repositoryName"] for r in client(server, "ecr").describe_repositories()["repositories"]]
        assert CACHED not in names

        # The registry policy may grant what the identity lacks (ECR's registry permissions).
        user_arn = iam.get_user(UserName="reader")["User"]["Arn"]
        client(server, "ecr").put_registry_policy(
            policyText=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": user_arn},
                            "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                            "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{PREFIX}/*",
                        }
                    ],
                }
            )
        )
        status, body, _ = get(url, {"Authorization": authorization})
        assert status == 200, body

        create_rule(server, upstream.url, prefix="other")
        url = f"{server.url}/v2/other/{UPSTREAM_REPOSITORY}/manifests/{TAG}"
        status, body, _ = get(url, {"Authorization": authorization})
        assert status == 403  # the registry policy names the up/ repositories only

        iam.put_user_policy(
            UserName="reader",
            PolicyName="import",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                            "Resource": "*",
                        }
                    ],
                }
            ),
        )
        status, body, _ = get(url, {"Authorization": authorization})
        assert status == 200, body
    finally:
        server.stop()


def test_imports_run_as_the_service_linked_role(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    seed(upstream, tmp_path)
    create_rule(pullcache, upstream.url)
    iam = client(pullcache, "iam")
    assert (
        "RoleLastUsed" not in iam.get_role(RoleName=ROLE)["Role"]
        or not iam.get_role(RoleName=ROLE)["Role"]["RoleLastUsed"]
    )
    image_blobs(pullcache, CACHED)
    last_used = iam.get_role(RoleName=ROLE)["Role"]["RoleLastUsed"]
    assert last_used["Region"] == "us-east-1"
    assert "LastUsedDate" in last_used
    assert ACCOUNT in iam.get_role(RoleName=ROLE)["Role"]["Arn"]


def test_a_first_pull_by_digest_imports_the_image_without_a_tag(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    written = seed(upstream, tmp_path)
    create_rule(pullcache, upstream.url)
    raw = skopeo.inspect_raw(skopeo.docker_reference(pullcache.address, CACHED, written.digest))
    assert str(Digest.of(raw)) == written.digest
    images = client(pullcache, "ecr").describe_images(repositoryName=CACHED)["imageDetails"]
    assert [(image["imageDigest"], image.get("imageTags")) for image in images] == [(written.digest, None)]


def test_a_range_of_a_blob_not_yet_cached_is_served(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "image")
    write_image(layout, TAG, (2 << 20,), seed=5, media_types=OCI)
    skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, TAG))
    with FaultyUpstream(upstream.url) as faulty:
        faulty.throttle(4 << 20)
        create_rule(pullcache, faulty.url)
        layer = max(image_blobs(pullcache, CACHED), key=lambda blob: blob["size"])
        _, whole, _ = get(f"{upstream.url}/v2/{UPSTREAM_REPOSITORY}/blobs/{layer['digest']}")
        status, body, headers = get(
            f"{pullcache.url}/v2/{CACHED}/blobs/{layer['digest']}", {"Range": "bytes=1000000-1000999"}
        )
        assert status == 206
        assert body == whole[1_000_000:1_001_000]
        assert headers["Content-Range"] == f"bytes 1000000-1000999/{layer['size']}"


def test_a_repository_created_by_a_pull_takes_its_creation_template(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    seed(upstream, tmp_path)
    ecr = client(pullcache, "ecr")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
        }
    )
    lifecycle = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5},
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    ecr.create_repository_creation_template(
        prefix=PREFIX,
        appliedFor=["PULL_THROUGH_CACHE"],
        imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "team", "Value": "platform"}],
        repositoryPolicy=policy,
        lifecyclePolicy=lifecycle,
    )
    # The fixture's ROOT template (CREATE_ON_PUSH), applied for replication too: never for the cache.
    ecr.update_repository_creation_template(
        prefix="ROOT", appliedFor=["CREATE_ON_PUSH", "REPLICATION"], imageTagMutability="MUTABLE"
    )
    create_rule(pullcache, upstream.url)

    image_blobs(pullcache, CACHED)

    repository = ecr.describe_repositories(repositoryNames=[CACHED])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    arn = repository["repositoryArn"]
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "platform"}]
    assert json.loads(ecr.get_repository_policy(repositoryName=CACHED)["policyText"]) == json.loads(policy)
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=CACHED)["lifecyclePolicyText"]) == json.loads(lifecycle)


def test_an_upstream_behind_a_token_challenge_is_pulled_with_the_rules_secret(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    written = seed(upstream, tmp_path)
    secret = client(pullcache, "secretsmanager").create_secret(
        Name="ecr-pullthroughcache/gate", SecretString=json.dumps({"username": "puller", "accessToken": "s3cret"})
    )
    with TokenGate(upstream.url, "puller", "s3cret") as gate:
        create_rule(pullcache, gate.url, credentialArn=secret["ARN"])
        assert read_registry_tree(pullcache.url, CACHED, TAG) == written
        assert gate.token_requests >= 1
    assert "s3cret" not in pullcache.log()


def test_a_rule_whose_secret_is_wrong_answers_denied_and_names_no_secret(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    seed(upstream, tmp_path)
    secrets = client(pullcache, "secretsmanager")
    secret = secrets.create_secret(
        Name="ecr-pullthroughcache/gate", SecretString=json.dumps({"username": "puller", "accessToken": "wrong"})
    )
    with TokenGate(upstream.url, "puller", "s3cret") as gate:
        create_rule(pullcache, gate.url, credentialArn=secret["ARN"])
        status, body, _ = get(f"{pullcache.url}/v2/{CACHED}/manifests/{TAG}")
    assert status == 403
    error = json.loads(body)["errors"][0]
    assert error["code"] == "DENIED"
    assert "wrong" not in error["message"]


@pytest.mark.parametrize("workers", [1, 2])
def test_twenty_concurrent_pullers_make_the_upstream_serve_each_blob_once(
    workers: int, upstream: DistributionServer, tmp_path: Path
) -> None:
    """Every puller arrives while the fills are in flight (the upstream is throttled), on every worker process."""
    layout = OciLayout(tmp_path / "image")
    written = write_image(layout, TAG, (4 << 20, 3 << 20), seed=7, media_types=OCI)
    skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, TAG))
    server = PullcacheServer(tmp_path / "data", workers=workers).start()
    try:
        with FaultyUpstream(upstream.url) as faulty:
            faulty.throttle(8 << 20)  # bytes a second
            create_rule(server, faulty.url)
            blobs = image_blobs(server, CACHED)

            def pull(_: int) -> list[str]:
                found = []
                for blob in blobs:
                    status, body, _headers = get(f"{server.url}/v2/{CACHED}/blobs/{blob['digest']}")
                    assert status == 200
                    found.append(str(Digest.of(body)))
                return found

            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                results = list(pool.map(pull, range(20)))
            assert all(result == [blob["digest"] for blob in blobs] for result in results)
            for blob in blobs:
                assert faulty.blob_bytes(blob["digest"]) == blob["size"]
        assert read_registry_tree(server.url, CACHED, TAG) == written
    finally:
        server.stop()


def test_every_platform_is_fetched_when_prefetch_is_on(upstream: DistributionServer, tmp_path: Path) -> None:
    written = seed(upstream, tmp_path, IMAGE_CASES[1])
    server = PullcacheServer(tmp_path / "data", extra_args=("--prefetch-platforms",)).start()
    try:
        create_rule(server, upstream.url)
        status, _, _ = get(
            f"{server.url}/v2/{CACHED}/manifests/{TAG}", {"Accept": "application/vnd.oci.image.index.v1+json"}
        )
        assert status == 200
        ecr = client(server, "ecr")
        children = written.children
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = {image["imageDigest"] for image in ecr.describe_images(repositoryName=CACHED)["imageDetails"]}
            if children <= found:
                break
            time.sleep(0.05)
        assert children <= found
    finally:
        server.stop()


def test_one_rules_tag_ttl_is_changed_beside_the_running_server(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    """`pullcache rules set-tag-ttl` (ECR's API has no field for it): only that rule asks its upstream again."""
    first = seed(upstream, tmp_path, seed_value=1)
    create_rule(pullcache, upstream.url)
    create_rule(pullcache, upstream.url, prefix="steady")
    steady = f"steady/{UPSTREAM_REPOSITORY}"
    assert read_registry_tree(pullcache.url, CACHED, TAG) == first
    assert read_registry_tree(pullcache.url, steady, TAG) == first
    newer = seed(upstream, tmp_path, seed_value=2)
    assert read_registry_tree(pullcache.url, CACHED, TAG) == first  # within the default TTL of a day

    changed = subprocess.run(
        [sys.executable, "-m", "pullcache", "rules", "set-tag-ttl", PREFIX, "0", "--data-dir", str(pullcache.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert changed.stdout.split("\t")[::2] == [PREFIX, "tag TTL 0 s\n"]
    deadline = time.monotonic() + 10  # workers re-read rules every second
    while read_registry_tree(pullcache.url, CACHED, TAG) != newer:
        assert time.monotonic() < deadline, "the new TTL was not applied"
        time.sleep(0.2)
    assert read_registry_tree(pullcache.url, steady, TAG) == first
