"""/v2/ requests are authorized by IAM policies, within one account and across two: skopeo, the aws CLI and boto3
against a live server whose /v2/ requires a token (no --anonymous-registry).

Each user logs in with the token `aws ecr get-login-password` prints under its own access key. A refused request
is 403 with the OCI code DENIED and AWS's AccessDenied text. The second account is made with `pullcache accounts
create` while the server runs. One server serves the module; each test works on users and repositories of its own.
"""

from __future__ import annotations

import base64
import configparser
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from testkit.aws_clients import (
    CLI_TIMEOUT,
    ECR_FULL,
    ECR_READ_ONLY,
    aws_cli,
    cli_environment,
    client,
    registry_password,
    signed_by,
)
from testkit.images import OciLayout, write_image
from testkit.reply import Reply
from testkit.servers import PullcacheServer
from testkit.sync_client import ACCEPT_MANIFESTS, request
from tests.integration import skopeo

FIRST: Final = "000000000000"  # the server's account (--account-id's default)
SECOND: Final = "111122223333"
REGION: Final = "us-east-1"
PULL_ACTIONS: Final = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("registry-authorization") / "data", anonymous_registry=False)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


@pytest.fixture(scope="module")
def ecr(server: PullcacheServer) -> Any:
    return client(server, "ecr")


@pytest.fixture(scope="module")
def root_authfile(server: PullcacheServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    authfile = tmp_path_factory.mktemp("root-login") / "auth.json"
    skopeo_login(server, authfile, registry_password(server))
    return authfile


# -- helpers ------------------------------------------------------------------------------------------------


def skopeo_login(server: PullcacheServer, authfile: Path, password: str) -> None:
    """`skopeo login -u AWS --password-stdin`, as the ECR guide pipes get-login-password into it."""
    logged_in = subprocess.run(
        [
            "skopeo",
            "login",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            "-u",
            "AWS",
            "--password-stdin",
            server.address,
        ],
        input=password,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert logged_in.returncode == 0, logged_in.stderr


def copy(source: str, destination: str, authfile: Path) -> None:
    skopeo.run(
        "copy", "--quiet", "--preserve-digests", *skopeo.NO_TLS, "--authfile", str(authfile), source, destination
    )


def aws(environment: Mapping[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("aws")), *arguments, "--output", "json"],
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def with_key(environment: Mapping[str, str], key: Mapping[str, str]) -> dict[str, str]:
    """`environment` with an IAM user's access key, which the aws CLI prefers to any credentials file."""
    return {**environment, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def login_password(environment: Mapping[str, str]) -> str:
    printed = aws(environment, "ecr", "get-login-password")
    assert printed.returncode == 0, printed.stderr
    return printed.stdout.strip()


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()


def v2(server: PullcacheServer, method: str, path: str, password: str, **headers: str) -> Reply:
    return request(method, f"{server.url}/v2/{path}", {"Authorization": basic(password), **headers})


def allow(*actions: str) -> str:
    """An identity-based policy allowing `actions` on every resource (of any account, as cross-account use needs)."""
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


def deny(*actions: str, resource: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": list(actions), "Resource": resource}]}
    )


def repository_policy(principal: str, *actions: str) -> str:
    statement = {"Sid": "CrossAccountPull", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions)}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def user_with_key(iam: Any, name: str, *managed: str, inline: str | None = None) -> dict[str, str]:
    iam.create_user(UserName=name)
    for arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-inline", PolicyDocument=inline)
    key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
    return key


def push_image(server: PullcacheServer, ecr: Any, authfile: Path, repository: str, seed: int, tmp: Path) -> str:
    """Create `repository` in the first account and push an image to it as `v1` with skopeo; returns its digest."""
    ecr.create_repository(repositoryName=repository)
    layout = OciLayout(tmp / f"source-{seed}")
    tree = write_image(layout, "v1", (2048, 1024), seed=seed)
    copy(layout.reference("v1"), skopeo.docker_reference(server.address, repository, "v1"), authfile)
    return tree.digest


def pulled_digest(server: PullcacheServer, repository: str, authfile: Path, into: Path) -> str:
    """Pull `repository:v1` with skopeo into an OCI layout and return the digest it holds."""
    layout = OciLayout(into)
    copy(skopeo.docker_reference(server.address, repository, "v1"), layout.reference("v1"), authfile)
    return layout.read_tree("v1").digest


def refused(reply: Reply) -> tuple[int, list[str], str]:
    """(status, OCI codes, message of the first error) of a refused /v2/ request."""
    return reply.status, reply.error_codes, reply.json()["errors"][0]["message"]


def not_authorized(user_arn: str, action: str, repository_arn: str, reason: str) -> str:
    return f"User: {user_arn} is not authorized to perform: {action} on resource: {repository_arn} {reason}"


def repository_arn(repository: str, account: str = FIRST) -> str:
    return f"arn:aws:ecr:{REGION}:{account}:repository/{repository}"


# -- one account: managed and inline policies ---------------------------------------------------------------


def test_a_read_only_user_pulls_with_its_own_login_but_its_push_is_denied(
    server: PullcacheServer, iam: Any, ecr: Any, root_authfile: Path, tmp_path: Path
) -> None:
    repository = "readonly/app"
    digest = push_image(server, ecr, root_authfile, repository, 11, tmp_path)
    key = user_with_key(iam, "registry-reader", ECR_READ_ONLY)
    password = login_password(with_key(cli_environment(server), key))
    authfile = tmp_path / "reader.json"
    skopeo_login(server, authfile, password)

    pulled = pulled_digest(server, repository, authfile, tmp_path / "pulled")
    other = OciLayout(tmp_path / "other")
    write_image(other, "v2", (512,), seed=12)
    with pytest.raises(skopeo.SkopeoFailed) as push:
        copy(other.reference("v2"), skopeo.docker_reference(server.address, repository, "v2"), authfile)
    start_upload = v2(server, "POST", f"{repository}/blobs/uploads/", password)

    refusal = not_authorized(
        f"arn:aws:iam::{FIRST}:user/registry-reader",
        "ecr:InitiateLayerUpload",
        repository_arn(repository),
        "because no identity-based policy allows the ecr:InitiateLayerUpload action",
    )
    assert pulled == digest
    assert f"initiating layer upload to /v2/{repository}/blobs/uploads/" in str(push.value)
    assert f"denied: {refusal}" in str(push.value)  # containers/image's words for DENIED
    assert refused(start_upload) == (403, ["DENIED"], refusal)
    tags = [image.get("imageTag") for image in ecr.list_images(repositoryName=repository)["imageIds"]]
    assert tags == ["v1"]


def test_an_explicit_deny_on_one_repository_wins_over_full_access_on_v2(
    server: PullcacheServer, iam: Any, ecr: Any, root_authfile: Path, tmp_path: Path
) -> None:
    guarded, open_ = "deny/guarded", "deny/open"
    push_image(server, ecr, root_authfile, guarded, 21, tmp_path)
    open_digest = push_image(server, ecr, root_authfile, open_, 22, tmp_path)
    key = user_with_key(
        iam, "denied-once", ECR_FULL, inline=deny("ecr:BatchGetImage", resource=repository_arn(guarded))
    )
    password = login_password(with_key(cli_environment(server), key))
    authfile = tmp_path / "denied-once.json"
    skopeo_login(server, authfile, password)

    pulled = pulled_digest(server, open_, authfile, tmp_path / "open")
    with pytest.raises(skopeo.SkopeoFailed) as pull:
        pulled_digest(server, guarded, authfile, tmp_path / "guarded")
    manifest = v2(server, "GET", f"{guarded}/manifests/v1", password, Accept=ACCEPT_MANIFESTS)

    refusal = not_authorized(
        f"arn:aws:iam::{FIRST}:user/denied-once",
        "ecr:BatchGetImage",
        repository_arn(guarded),
        "with an explicit deny in an identity-based policy",
    )
    assert pulled == open_digest
    assert f"denied: {refusal}" in str(pull.value)
    assert refused(manifest) == (403, ["DENIED"], refusal)


# -- a second account ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """An account made by `pullcache accounts create`, with what the command printed and wrote."""

    output: str
    credentials_file: Path
    config_file: Path

    def environment(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment["AWS_SHARED_CREDENTIALS_FILE"] = str(self.credentials_file)
        environment["AWS_CONFIG_FILE"] = str(self.config_file)
        return environment

    def root_keys(self) -> tuple[str, str]:
        parser = configparser.ConfigParser()
        parser.read(self.credentials_file)
        return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]


def accounts_create(server: PullcacheServer, account_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pullcache", "accounts", "create", account_id, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def second(server: PullcacheServer) -> Account:
    created = accounts_create(server, SECOND)
    assert created.returncode == 0, created.stderr
    directory = server.data_dir / "accounts" / SECOND
    return Account(created.stdout, directory / "credentials", directory / "config")


@pytest.fixture(scope="module")
def second_iam(server: PullcacheServer, second: Account) -> Any:
    key_id, secret = second.root_keys()
    return client(server, "iam", aws_access_key_id=key_id, aws_secret_access_key=secret)


def test_accounts_create_run_beside_the_server_writes_files_that_sign_as_the_new_root(
    server: PullcacheServer, second: Account
) -> None:
    _, secret = second.root_keys()
    config = configparser.ConfigParser()
    config.read(second.config_file)

    identity = aws(second.environment(), "sts", "get-caller-identity")

    assert identity.returncode == 0, identity.stderr
    assert json.loads(identity.stdout)["Arn"] == f"arn:aws:iam::{SECOND}:root"
    assert stat.S_IMODE(second.credentials_file.stat().st_mode) == 0o600
    assert dict(config["default"]) == {"region": REGION, "endpoint_url": server.url, "cli_follow_urlparam": "false"}
    assert str(second.credentials_file.resolve()) in second.output
    assert secret not in second.output


def test_accounts_create_again_keeps_the_root_key_and_refuses_a_malformed_id(
    server: PullcacheServer, second: Account
) -> None:
    key_id, secret = second.root_keys()

    again = accounts_create(server, SECOND)
    malformed = accounts_create(server, "11112222333")

    assert again.returncode == 0, again.stderr
    assert second.root_keys() == (key_id, secret)
    assert f"root access key {key_id} (already there)" in again.stdout
    assert malformed.returncode == 2
    assert "an account id is 12 digits, not '11112222333'" in malformed.stderr
    assert not (server.data_dir / "accounts" / "11112222333").exists()


def test_a_repository_policy_lets_another_accounts_user_pull_what_it_grants(
    server: PullcacheServer, ecr: Any, root_authfile: Path, second: Account, second_iam: Any, tmp_path: Path
) -> None:
    repository = "shared/app"
    digest = push_image(server, ecr, root_authfile, repository, 31, tmp_path)
    key = user_with_key(second_iam, "cross-puller", inline=allow("ecr:GetAuthorizationToken", *PULL_ACTIONS))
    user_arn = f"arn:aws:iam::{SECOND}:user/cross-puller"
    password = login_password(with_key(second.environment(), key))
    authfile = tmp_path / "cross-puller.json"
    skopeo_login(server, authfile, password)
    manifest = f"{repository}/manifests/v1"

    before = v2(server, "GET", manifest, password, Accept=ACCEPT_MANIFESTS)
    with pytest.raises(skopeo.SkopeoFailed):
        pulled_digest(server, repository, authfile, tmp_path / "before")
    policy_set = aws_cli(
        server,
        "ecr",
        "set-repository-policy",
        "--repository-name",
        repository,
        "--policy-text",
        repository_policy(user_arn, *PULL_ACTIONS),
    )
    assert policy_set.returncode == 0, policy_set.stderr
    pulled = pulled_digest(server, repository, authfile, tmp_path / "after")
    by_host = v2(
        server,
        "GET",
        manifest,
        password,
        Accept=ACCEPT_MANIFESTS,
        Host=f"{FIRST}.dkr.ecr.{REGION}.localhost:{server.port}",
    )
    own_registry = v2(
        server,
        "GET",
        manifest,
        password,
        Accept=ACCEPT_MANIFESTS,
        Host=f"{SECOND}.dkr.ecr.{REGION}.localhost:{server.port}",
    )
    upload = v2(server, "POST", f"{repository}/blobs/uploads/", password)

    assert refused(before) == (
        403,
        ["DENIED"],
        not_authorized(
            user_arn,
            "ecr:BatchGetImage",
            repository_arn(repository),
            "because no resource-based policy allows the ecr:BatchGetImage action",
        ),
    )
    assert pulled == digest
    assert by_host.status == 200
    assert by_host.headers["Docker-Content-Digest"] == digest
    # The token names the user; the Host names the registry: the second account's has no such repository.
    assert (own_registry.status, own_registry.error_codes) == (404, ["NAME_UNKNOWN"])
    assert refused(upload)[:2] == (403, ["DENIED"])  # the policy grants pulls only


def test_another_accounts_user_needs_its_own_identity_allow_besides_the_repository_policy(
    server: PullcacheServer, ecr: Any, root_authfile: Path, second: Account, second_iam: Any, tmp_path: Path
) -> None:
    repository = "shared/one-sided"
    push_image(server, ecr, root_authfile, repository, 41, tmp_path)
    key = user_with_key(second_iam, "token-only", inline=allow("ecr:GetAuthorizationToken"))
    user_arn = f"arn:aws:iam::{SECOND}:user/token-only"
    ecr.set_repository_policy(repositoryName=repository, policyText=repository_policy(user_arn, *PULL_ACTIONS))
    password = login_password(with_key(second.environment(), key))
    authfile = tmp_path / "token-only.json"
    skopeo_login(server, authfile, password)

    manifest = v2(server, "GET", f"{repository}/manifests/v1", password, Accept=ACCEPT_MANIFESTS)
    with pytest.raises(skopeo.SkopeoFailed):
        pulled_digest(server, repository, authfile, tmp_path / "pulled")

    # The repository policy names the user itself, so what is missing is the identity-based side.
    assert refused(manifest) == (
        403,
        ["DENIED"],
        not_authorized(
            user_arn,
            "ecr:BatchGetImage",
            repository_arn(repository),
            "because no identity-based policy allows the ecr:BatchGetImage action",
        ),
    )


def test_describe_repositories_across_accounts_is_allowed_only_when_the_repository_policy_grants_it(
    server: PullcacheServer, ecr: Any, second: Account, second_iam: Any
) -> None:
    repository = "shared/described"
    ecr.create_repository(repositoryName=repository)
    key = user_with_key(second_iam, "cross-reader", ECR_READ_ONLY)
    user_arn = f"arn:aws:iam::{SECOND}:user/cross-reader"
    ecr.set_repository_policy(repositoryName=repository, policyText=repository_policy(user_arn, *PULL_ACTIONS))
    environment = with_key(second.environment(), key)
    describe = ("ecr", "describe-repositories", "--registry-id", FIRST)

    named_before = aws(environment, *describe, "--repository-names", repository)
    whole_registry = aws(environment, *describe)
    ecr.set_repository_policy(
        repositoryName=repository,
        policyText=repository_policy(user_arn, *PULL_ACTIONS, "ecr:DescribeRepositories"),
    )
    named_after = aws(environment, *describe, "--repository-names", repository)
    images = aws(environment, "ecr", "describe-images", "--registry-id", FIRST, "--repository-name", repository)

    assert named_before.returncode != 0
    assert (
        "An error occurred (AccessDeniedException) when calling the DescribeRepositories operation: "
        + not_authorized(
            user_arn,
            "ecr:DescribeRepositories",
            repository_arn(repository),
            "because no resource-based policy allows the ecr:DescribeRepositories action",
        )
    ) in named_before.stderr
    assert whole_registry.returncode != 0
    assert "(AccessDeniedException) when calling the DescribeRepositories operation" in whole_registry.stderr
    assert named_after.returncode == 0, named_after.stderr
    [described] = json.loads(named_after.stdout)["repositories"]
    assert (described["registryId"], described["repositoryArn"]) == (FIRST, repository_arn(repository))
    assert images.returncode != 0
    assert "(AccessDeniedException) when calling the DescribeImages operation" in images.stderr


# -- tokens last no longer than the credentials that obtained them ------------------------------------------


def token_of(ecr_client: Any) -> tuple[str, Any]:
    """(the /v2/ password, expiresAt) of GetAuthorizationToken signed by `ecr_client`'s credentials."""
    [data] = ecr_client.get_authorization_token()["authorizationData"]
    return base64.b64decode(data["authorizationToken"]).decode().partition(":")[2], data["expiresAt"]


def refused_within(server: PullcacheServer, path: str, password: str, seconds: float) -> Reply:
    """The first refusal of GET /v2/`path`, asked every 0.2 s for at most `seconds` (keys are remembered a second)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = v2(server, "GET", path, password)
        if reply.status != 200 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_a_token_stops_working_when_the_key_that_obtained_it_is_made_inactive_or_deleted(
    server: PullcacheServer, iam: Any, change: str
) -> None:
    name = f"token-key-{change}"
    key = user_with_key(iam, name, ECR_READ_ONLY)
    password, _ = token_of(signed_by(server, "ecr", key))
    assert v2(server, "GET", "", password).status == 200

    if change == "deactivate":
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    else:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    reply = refused_within(server, "", password, 10)

    assert refused(reply) == (
        403,
        ["DENIED"],
        "The credentials that obtained your authorization token are no longer valid. Reauthenticate and try again.",
    )
    if change == "deactivate":  # made active again, the key's tokens work again
        iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
        deadline = time.monotonic() + 10
        while v2(server, "GET", "", password).status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert v2(server, "GET", "", password).status == 200


def test_a_token_obtained_with_a_role_session_expires_with_the_session(server: PullcacheServer, iam: Any) -> None:
    key = user_with_key(iam, "token-session-user", inline=allow("sts:AssumeRole"))
    user_arn = iam.get_user(UserName="token-session-user")["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="token-session-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="token-session-role", PolicyName="pull", PolicyDocument=allow("ecr:*"))
    session = signed_by(server, "sts", key).assume_role(
        RoleArn=role["Arn"], RoleSessionName="short", DurationSeconds=900
    )["Credentials"]

    password, expires_at = token_of(signed_by(server, "ecr", session))

    assert expires_at == session["Expiration"].replace(microsecond=0)  # not 12 hours: the session's 15 minutes
    assert v2(server, "GET", "", password).status == 200
