"""The service-linked role's life with real rules and real imports: created by the first rule, refused deletion
while rules exist in any region or an import runs, deleted once both are over, created again by the next rule."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

from testkit.aws_clients import ACCOUNT, client
from testkit.images import OCI, OciLayout, write_image
from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo
from tests.integration.cached_images import CACHED, TAG, UPSTREAM_REPOSITORY, image_blobs, wait_for_whole_image
from tests.upstreams import FaultyUpstream

ROLE: Final = "AWSServiceRoleForECRPullThroughCache"
POLL_LIMIT: Final = 100


def delete_role(iam: Any) -> dict[str, Any]:
    """DeleteServiceLinkedRole, then the task's final status (polled a bounded number of times)."""
    task = iam.delete_service_linked_role(RoleName=ROLE)["DeletionTaskId"]
    for _ in range(POLL_LIMIT):
        status: dict[str, Any] = iam.get_service_linked_role_deletion_status(DeletionTaskId=task)
        if status["Status"] in ("SUCCEEDED", "FAILED"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"deletion task {task} did not end")


def role_exists(iam: Any) -> bool:
    try:
        iam.get_role(RoleName=ROLE)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def test_the_role_outlives_no_rule_and_comes_back_with_the_next(pullcache: PullcacheServer) -> None:
    iam = client(pullcache, "iam")
    east = client(pullcache, "ecr")
    west = client(pullcache, "ecr", region_name="eu-west-1")
    assert not role_exists(iam)

    east.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    assert role_exists(iam)
    east.create_pull_through_cache_rule(ecrRepositoryPrefix="k8s", upstreamRegistryUrl="registry.k8s.io")
    west.create_pull_through_cache_rule(ecrRepositoryPrefix="quay-eu", upstreamRegistryUrl="quay.io")

    failed = delete_role(iam)
    assert failed["Status"] == "FAILED"
    usage = {entry["Region"]: sorted(entry["Resources"]) for entry in failed["Reason"]["RoleUsageList"]}
    # IAM's model: each of Resources names a resource using the role, 20 to 2048 characters: ARNs, not prefixes.
    east_arn, west_arn = (f"arn:aws:ecr:{region}:{ACCOUNT}:repository" for region in ("us-east-1", "eu-west-1"))
    assert usage == {
        "us-east-1": [f"{east_arn}/k8s/*", f"{east_arn}/quay/*"],
        "eu-west-1": [f"{west_arn}/quay-eu/*"],
    }
    assert role_exists(iam)

    east.delete_pull_through_cache_rule(ecrRepositoryPrefix="quay")
    east.delete_pull_through_cache_rule(ecrRepositoryPrefix="k8s")
    still = delete_role(iam)
    assert still["Status"] == "FAILED"
    assert [entry["Region"] for entry in still["Reason"]["RoleUsageList"]] == ["eu-west-1"]

    west.delete_pull_through_cache_rule(ecrRepositoryPrefix="quay-eu")
    assert delete_role(iam)["Status"] == "SUCCEEDED"
    assert not role_exists(iam)

    west.create_pull_through_cache_rule(ecrRepositoryPrefix="quay-eu", upstreamRegistryUrl="quay.io")
    role = iam.get_role(RoleName=ROLE)["Role"]
    assert role["Path"] == "/aws-service-role/pullthroughcache.ecr.amazonaws.com/"


def test_the_role_cannot_be_deleted_while_an_import_runs_and_can_be_after(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "image")
    write_image(layout, TAG, (3 << 20,), seed=3, media_types=OCI)
    skopeo.copy_all(layout.reference(TAG), skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, TAG))
    iam = client(pullcache, "iam")
    ecr = client(pullcache, "ecr")
    with FaultyUpstream(upstream.url) as faulty:
        faulty.throttle(1 << 20)  # the import of the layer takes about three seconds
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="up", upstreamRegistryUrl=faulty.url)
        image_blobs(pullcache, CACHED)  # the manifest is imported; the layer follows in the background
        ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="up")

        busy = delete_role(iam)
        assert busy["Status"] == "FAILED"
        assert "RoleUsageList" not in busy["Reason"] or not busy["Reason"]["RoleUsageList"]
        assert busy["Reason"]["Reason"]
        assert role_exists(iam)

        faulty.throttle(None)
        wait_for_whole_image(pullcache, CACHED)
    # "If that happens, wait for a few minutes and try again": the service lets go of the role a moment after
    # its last import, and a retry then succeeds.
    for _ in range(20):
        if delete_role(iam)["Status"] == "SUCCEEDED":
            break
        time.sleep(0.25)
    assert not role_exists(iam)
    # Deleting the rule (and the role) kept what was cached.
    assert CACHED in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert ecr.describe_images(repositoryName=CACHED)["imageDetails"]
