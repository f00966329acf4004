"""Pushes and pulls that name a repository that does not exist, as ECR answers them: skopeo, the aws CLI and boto3
against a live server whose /v2/ requires a token and that starts without any repository creation template.

A push creates its repository only when a template applied for CREATE_ON_PUSH covers the name, and only for a
pusher who may ecr:CreateRepository; the repository then has the template's settings, policies and tags. Without
such a template the push is refused with NAME_UNKNOWN and ECR's text. A pull of a missing repository is NAME_UNKNOWN.
One server serves the module; each test works on templates, users and repositories of its own prefix.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from testkit.aws_clients import ECR_FULL, cli_json, client, client_error, registry_password
from testkit.images import OciLayout, write_image
from testkit.reply import Reply
from testkit.servers import PullcacheServer
from testkit.sync_client import ACCEPT_MANIFESTS, error_reply
from tests.integration import skopeo

ACCOUNT: Final = "000000000000"  # the server's account (--account-id's default)
REGION: Final = "us-east-1"
EMPTY_DIGEST: Final = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # of b"{}"
PUSH_ACTIONS: Final = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetAuthorizationToken",
)
LIFECYCLE: Final = json.dumps(
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(
        tmp_path_factory.mktemp("create-on-push") / "data", anonymous_registry=False, create_on_push=False
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


@pytest.fixture(scope="module")
def root_password(server: PullcacheServer) -> str:
    return registry_password(server)


# -- helpers ------------------------------------------------------------------------------------------------


def name_unknown(repository: str) -> str:
    """ECR's text, as docker prints it ("name unknown: The repository with name ... does not exist ...")."""
    return f"The repository with name '{repository}' does not exist in the registry with id '{ACCOUNT}'"


def v2(
    server: PullcacheServer,
    method: str,
    path: str,
    password: str,
    body: bytes | None = None,
    **headers: str,
) -> Reply:
    authorization = "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()
    outgoing = urllib.request.Request(
        f"{server.url}/v2/{path}", data=body, method=method, headers={"Authorization": authorization, **headers}
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            answered = CIMultiDictProxy(CIMultiDict(response.headers.items()))
            return Reply(method, response.status, answered, response.read())
    except urllib.error.HTTPError as error:
        return error_reply(method, error)


def refused(reply: Reply) -> tuple[int, list[str], str]:
    return reply.status, reply.error_codes, reply.json()["errors"][0]["message"]


def repository_exists(ecr: Any, repository: str) -> bool:
    return repository in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]


def push(server: PullcacheServer, password: str, repository: str, tmp: Path, seed: int) -> None:
    """Push a small image as `v1` with skopeo, logged in with `password`; raises skopeo.SkopeoFailed."""
    layout = OciLayout(tmp / f"image-{seed}")
    write_image(layout, "v1", (1024,), seed=seed)
    skopeo.run(
        "copy",
        "--quiet",
        *skopeo.NO_TLS,
        "--dest-creds",
        f"AWS:{password}",
        layout.reference("v1"),
        skopeo.docker_reference(server.address, repository, "v1"),
    )


def user_key(iam: Any, name: str, policy: dict[str, Any]) -> dict[str, str]:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-inline", PolicyDocument=json.dumps(policy))
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def pushers_policy(*, create: bool) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": list(PUSH_ACTIONS), "Resource": "*"}]
    if create:
        statements.append({"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


# -- without a template -------------------------------------------------------------------------------------


def test_a_push_to_a_missing_repository_without_a_template_is_name_unknown_at_every_step(
    server: PullcacheServer, ecr: Any, root_password: str, tmp_path: Path
) -> None:
    repository = "none/app"
    with pytest.raises(skopeo.SkopeoFailed) as pushed:
        push(server, root_password, repository, tmp_path, 1)
    start = v2(server, "POST", f"{repository}/blobs/uploads/", root_password)
    mount = v2(server, "POST", f"{repository}/blobs/uploads/?mount={EMPTY_DIGEST}&from=none/other", root_password)
    monolithic = v2(server, "POST", f"{repository}/blobs/uploads/?digest={EMPTY_DIGEST}", root_password, b"{}")
    manifest = v2(
        server,
        "PUT",
        f"{repository}/manifests/v1",
        root_password,
        json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
        ).encode(),
        **{"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )

    # containers/image's words for NAME_UNKNOWN, then ECR's text
    assert f"name unknown: {name_unknown(repository)}" in str(pushed.value)
    for reply in (start, mount, monolithic, manifest):
        assert refused(reply) == (404, ["NAME_UNKNOWN"], name_unknown(repository))
    assert not repository_exists(ecr, repository)


def test_a_template_applied_for_the_pull_through_cache_only_does_not_create_on_push(
    server: PullcacheServer, ecr: Any, root_password: str
) -> None:
    ecr.create_repository_creation_template(prefix="cacheonly", appliedFor=["PULL_THROUGH_CACHE"])

    start = v2(server, "POST", "cacheonly/app/blobs/uploads/", root_password)

    assert refused(start) == (404, ["NAME_UNKNOWN"], name_unknown("cacheonly/app"))
    assert not repository_exists(ecr, "cacheonly/app")


def test_the_ecr_api_does_not_create_on_push_even_under_a_template(
    server: PullcacheServer, ecr: Any, root_password: str
) -> None:
    ecr.create_repository_creation_template(prefix="apionly", appliedFor=["CREATE_ON_PUSH"])

    initiate = client_error(lambda: ecr.initiate_layer_upload(repositoryName="apionly/app"))
    put_image = client_error(lambda: ecr.put_image(repositoryName="apionly/app", imageManifest="{}"))

    # RepositoryNotFoundException's text as ECR's model documents the exception (the message is the registry's).
    missing = (
        400,
        "RepositoryNotFoundException",
        f"The repository with name 'apionly/app' does not exist in the registry with id '{ACCOUNT}'",
    )
    assert initiate == missing
    assert put_image == missing
    assert not repository_exists(ecr, "apionly/app")


# -- pulls ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "missing/app/manifests/latest",
        f"missing/app/manifests/{EMPTY_DIGEST}",
        f"missing/app/blobs/{EMPTY_DIGEST}",
        "missing/app/tags/list",
    ],
    ids=["manifest-by-tag", "manifest-by-digest", "blob", "tags"],
)
def test_a_pull_from_a_missing_repository_is_name_unknown(
    server: PullcacheServer, root_password: str, path: str
) -> None:
    reply = v2(server, "GET", path, root_password, Accept=ACCEPT_MANIFESTS)

    assert refused(reply) == (404, ["NAME_UNKNOWN"], name_unknown("missing/app"))


def test_skopeo_reports_a_pull_from_a_missing_repository_as_name_unknown(
    server: PullcacheServer, root_password: str, tmp_path: Path
) -> None:
    with pytest.raises(skopeo.SkopeoFailed) as pulled:
        skopeo.run(
            "copy",
            "--quiet",
            *skopeo.NO_TLS,
            "--src-creds",
            f"AWS:{root_password}",
            skopeo.docker_reference(server.address, "missing/app", "v1"),
            OciLayout(tmp_path / "pulled").reference("v1"),
        )

    assert "name unknown" in str(pulled.value)


# -- with a CREATE_ON_PUSH template ---------------------------------------------------------------------------


def test_a_push_under_a_create_on_push_template_creates_the_repository_with_its_settings(
    server: PullcacheServer, ecr: Any, iam: Any, tmp_path: Path
) -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": ["ecr:BatchGetImage"]}
            ],
        }
    )
    # The longest prefix wins over a shorter one (and over ROOT, which no template of this module uses).
    ecr.create_repository_creation_template(prefix="team", appliedFor=["CREATE_ON_PUSH"])
    cli_json(
        server,
        "ecr",
        "create-repository-creation-template",
        "--prefix",
        "team/backend",
        "--applied-for",
        "CREATE_ON_PUSH",
        "REPLICATION",
        "--image-tag-mutability",
        "IMMUTABLE_WITH_EXCLUSION",
        "--image-tag-mutability-exclusion-filters",
        "filterType=WILDCARD,filter=latest*",
        "--encryption-configuration",
        "encryptionType=AES256",
        "--repository-policy",
        policy,
        "--lifecycle-policy",
        LIFECYCLE,
        "--resource-tags",
        "Key=team,Value=backend",
        "Key=cost-center,Value=42",
    )
    key = user_key(iam, "creating-pusher", pushers_policy(create=True))
    password = registry_password(
        server, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    repository = "team/backend/api"

    push(server, password, repository, tmp_path, 2)

    described = cli_json(server, "ecr", "describe-repositories", "--repository-names", repository)["repositories"][0]
    arn = described["repositoryArn"]
    assert described["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert described["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest*"}]
    assert described["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert json.loads(ecr.get_repository_policy(repositoryName=repository)["policyText"]) == json.loads(policy)
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=repository)["lifecyclePolicyText"]) == json.loads(
        LIFECYCLE
    )
    assert sorted((t["Key"], t["Value"]) for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == [
        ("cost-center", "42"),
        ("team", "backend"),
    ]
    assert [i.get("imageTag") for i in ecr.list_images(repositoryName=repository)["imageIds"]] == ["v1"]
    # The shorter prefix's template (no settings) gives another repository ECR's defaults.
    push(server, password, "team/web", tmp_path, 3)
    assert ecr.describe_repositories(repositoryNames=["team/web"])["repositories"][0]["imageTagMutability"] == (
        "MUTABLE"
    )


def test_a_pusher_denied_create_repository_cannot_create_by_pushing(
    server: PullcacheServer, ecr: Any, iam: Any, tmp_path: Path
) -> None:
    ecr.create_repository_creation_template(prefix="guarded", appliedFor=["CREATE_ON_PUSH"])
    key = user_key(iam, "plain-pusher", pushers_policy(create=False))
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/plain-pusher"
    password = registry_password(
        server, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    repository = "guarded/app"
    simulated = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=["ecr:CreateRepository"])

    with pytest.raises(skopeo.SkopeoFailed) as pushed:
        push(server, password, repository, tmp_path, 4)
    start = v2(server, "POST", f"{repository}/blobs/uploads/", password)

    refusal = (
        f"User: {user_arn} is not authorized to perform: ecr:CreateRepository on resource: "
        f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository} "
        "because no identity-based policy allows the ecr:CreateRepository action"
    )
    assert simulated["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    assert f"denied: {refusal}" in str(pushed.value)
    assert refused(start) == (403, ["DENIED"], refusal)
    assert not repository_exists(ecr, repository)
    # Once it exists (created by someone who may), the same pusher pushes into it: creating was the only gap.
    ecr.create_repository(repositoryName=repository)
    push(server, password, repository, tmp_path, 5)


def test_a_pusher_with_full_ecr_access_creates_by_pushing_a_manifest_alone(
    server: PullcacheServer, ecr: Any, iam: Any
) -> None:
    ecr.create_repository_creation_template(
        prefix="artifacts", appliedFor=["CREATE_ON_PUSH"], imageTagMutability="IMMUTABLE"
    )
    iam.create_user(UserName="full-pusher")
    iam.attach_user_policy(UserName="full-pusher", PolicyArn=ECR_FULL)
    key = iam.create_access_key(UserName="full-pusher")["AccessKey"]
    password = registry_password(
        server, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    empty_index = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    ).encode()

    stored = v2(
        server,
        "PUT",
        "artifacts/empty/manifests/v1",
        password,
        empty_index,
        **{"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )

    assert stored.status == 201
    described = ecr.describe_repositories(repositoryNames=["artifacts/empty"])["repositories"][0]
    assert described["imageTagMutability"] == "IMMUTABLE"
