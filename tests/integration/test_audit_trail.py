"""The audit trail with a real server and real clients: every call that changes something, on every door, one
CloudTrail-shaped JSON line in <data-dir>/audit, no secret in it or in the logs; read back by `pullcache audit`."""

from __future__ import annotations

import hashlib
import json
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from testkit.aws_clients import ACCOUNT, client, registry_password, root_keys, signed_by
from testkit.images import OciLayout, write_image
from testkit.metrics import scrape, scrape_until
from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo
from tests.integration.cached_images import CACHED, PREFIX, TAG, create_rule, seed, wait_for_whole_image
from tests.integration.test_pull_through_role import delete_role

HIDDEN: Final = "HIDDEN_DUE_TO_SECURITY_REASONS"
ASSUME_ANY: Final = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
)
ROOT_ARN: Final = f"arn:aws:iam::{ACCOUNT}:root"
ROLE: Final = "AWSServiceRoleForECRPullThroughCache"
PULL_THROUGH: Final = "pullthroughcache.ecr.amazonaws.com"
TRUST_ROOT: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROOT_ARN}, "Action": "sts:AssumeRole"}],
    }
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    """A server whose /v2/ asks for credentials, logging at info (the access log included): what the grep reads."""
    started = PullcacheServer(tmp_path / "data", anonymous_registry=False, log_level="info").start()
    yield started
    started.stop()


def audit_lines(server: PullcacheServer) -> list[str]:
    directory = server.data_dir / "audit"
    files = [*sorted(directory.glob("audit.log.*"), key=lambda p: -int(p.suffix[1:])), directory / "audit.log"]
    return [line for path in files if path.exists() for line in path.read_text().splitlines()]


def events(server: PullcacheServer) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit_lines(server)]


def named(server: PullcacheServer, name: str) -> list[dict[str, Any]]:
    return [event for event in events(server) if event["eventName"] == name]


def audit_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pullcache", "audit", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def push(server: PullcacheServer, password: str, repository: str, tmp_path: Path) -> None:
    layout = OciLayout(tmp_path / f"image-{repository.replace('/', '-')}")
    write_image(layout, TAG, (2048,), seed=7)
    skopeo.run(
        "copy",
        "--quiet",
        *skopeo.NO_TLS,
        "--dest-creds",
        f"AWS:{password}",
        layout.reference(TAG),
        skopeo.docker_reference(server.address, repository, TAG),
    )


def fetch_a_layer_by_its_download_url(server: PullcacheServer, repository: str) -> str:
    """GetDownloadUrlForLayer for the image's layer, the URL fetched; returns the URL's grant."""
    ecr = client(server, "ecr")
    image = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": TAG}])["images"][0]
    layer = json.loads(image["imageManifest"])["layers"][0]["digest"]
    url = ecr.get_download_url_for_layer(repositoryName=repository, layerDigest=layer)["downloadUrl"]
    with urllib.request.urlopen(url, timeout=30) as response:
        assert hashlib.sha256(response.read()).hexdigest() == layer.removeprefix("sha256:")
    grant: str = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["grant"][0]
    return grant


def test_aws_calls_are_recorded_as_cloudtrail_writes_them_and_no_secret_is_kept(server: PullcacheServer) -> None:
    ecr, iam, secrets = (client(server, s) for s in ("ecr", "iam", "secretsmanager"))
    root_key, root_secret = root_keys(server)
    secret_value, next_value, password = "s3cret-value-4711", "s3cret-value-4712", "Passw0rd-Audit-0815!"

    ecr.create_repository(repositoryName="audited/app")
    ecr.describe_repositories()  # a read: not recorded
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.delete_repository(repositoryName="audited/missing")
    secrets.create_secret(Name="db", SecretString=secret_value)
    secrets.put_secret_value(SecretId="db", SecretString=next_value)
    secrets.delete_secret(SecretId="db", ForceDeleteWithoutRecovery=True)
    iam.create_user(UserName="ana")
    # Not implemented here, and refused: the call's record still must not hold its password.
    with pytest.raises(ClientError, match="InvalidAction"):
        iam.create_login_profile(UserName="ana", Password=password)
    user_key = iam.create_access_key(UserName="ana")["AccessKey"]
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=TRUST_ROOT)
    iam.attach_role_policy(
        RoleName="deployer", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
    )
    iam.put_user_policy(UserName="ana", PolicyName="assume", PolicyDocument=ASSUME_ANY)
    session = signed_by(server, "sts", user_key).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/deployer", RoleSessionName="ci"
    )["Credentials"]
    signed_by(server, "ecr", session).create_repository(repositoryName="audited/by-role")
    token = registry_password(server)
    ecr.delete_repository(repositoryName="audited/app")
    written = scrape_until(
        f"{server.url}/metrics", lambda found: found.value("pullcache_audit_events_total", outcome="written") >= 14
    )
    assert written.value("pullcache_audit_events_total", outcome="dropped") == 0
    server.stop()  # the queue is written before the worker goes
    assert 14 <= written.value("pullcache_audit_events_total", outcome="written") <= len(audit_lines(server))

    created = named(server, "CreateRepository")
    assert [e["requestParameters"]["repositoryName"] for e in created] == ["audited/app", "audited/by-role"]
    by_root = created[0]
    assert by_root["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": ROOT_ARN,
        "accountId": ACCOUNT,
        "accessKeyId": root_key,
    }
    assert {k: by_root[k] for k in ("eventVersion", "eventSource", "awsRegion", "eventType", "recipientAccountId")} == {
        "eventVersion": "1.08",
        "eventSource": "ecr.amazonaws.com",
        "awsRegion": "us-east-1",
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    assert by_root["readOnly"] is False
    assert by_root["managementEvent"] is True
    assert by_root["sourceIPAddress"] == "127.0.0.1"
    assert by_root["userAgent"].startswith("Boto3/")
    assert by_root["responseElements"]["repository"]["repositoryName"] == "audited/app"
    assert by_root["requestID"]
    assert by_root["eventID"]
    by_role = created[1]["userIdentity"]
    assert by_role["type"] == "AssumedRole"
    assert by_role["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"
    assert by_role["accessKeyId"] == session["AccessKeyId"]
    assert by_role["sessionContext"]["sessionIssuer"]["arn"] == f"arn:aws:iam::{ACCOUNT}:role/deployer"
    assert by_role["sessionContext"]["sessionIssuer"]["userName"] == "deployer"

    failed, deleted = named(server, "DeleteRepository")
    assert failed["errorCode"] == "RepositoryNotFoundException"
    assert failed["errorMessage"]
    assert failed["responseElements"] is None
    assert "errorCode" not in deleted
    assert not named(server, "DescribeRepositories")
    assert not named(server, "GetAuthorizationToken")

    assert named(server, "CreateSecret")[0]["requestParameters"]["secretString"] == HIDDEN
    assert named(server, "PutSecretValue")[0]["requestParameters"]["secretString"] == HIDDEN
    assert named(server, "DeleteSecret")[0]["eventSource"] == "secretsmanager.amazonaws.com"
    login_profile = named(server, "CreateLoginProfile")[0]
    assert login_profile["requestParameters"] == {"userName": "ana", "password": HIDDEN}
    assert login_profile["errorCode"] == "InvalidAction"
    access_key = named(server, "CreateAccessKey")[0]["responseElements"]["accessKey"]
    assert access_key["accessKeyId"] == user_key["AccessKeyId"]
    assert access_key["secretAccessKey"] == HIDDEN
    assumed = named(server, "AssumeRole")[0]
    assert assumed["eventSource"] == "sts.amazonaws.com"
    assert assumed["userIdentity"] == {
        "type": "IAMUser",
        "principalId": assumed["userIdentity"]["principalId"],
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ana",
        "accountId": ACCOUNT,
        "accessKeyId": user_key["AccessKeyId"],
        "userName": "ana",
    }
    assert assumed["userIdentity"]["principalId"].startswith("AIDA")
    credentials = assumed["responseElements"]["credentials"]
    assert credentials["accessKeyId"] == session["AccessKeyId"]
    assert credentials["secretAccessKey"] == HIDDEN
    assert credentials["sessionToken"] == HIDDEN
    assert named(server, "CreateUser")[0]["eventSource"] == "iam.amazonaws.com"

    audit_text, log_text = "\n".join(audit_lines(server)), server.log()
    assert (
        "pullcache.access" in log_text or '"path"' in log_text
    )  # the access log was written: the grep means something
    for kept_secret in (
        secret_value,
        next_value,
        password,
        root_secret,
        user_key["SecretAccessKey"],
        session["SecretAccessKey"],
        session["SessionToken"],
        token,
    ):
        assert kept_secret not in audit_text
        assert kept_secret not in log_text


def test_v2_pushes_and_deletes_are_recorded_as_ecr_calls_and_pulls_only_when_asked(
    tmp_path: Path,
) -> None:
    for audit_pulls in (False, True):
        server = PullcacheServer(
            tmp_path / f"data-{audit_pulls}",
            anonymous_registry=False,
            log_level="info",
            extra_args=["--audit-pulls"] if audit_pulls else [],
        ).start()
        try:
            password = registry_password(server)
            push(server, password, "pushed/app", tmp_path)
            reference = skopeo.docker_reference(server.address, "pushed/app", TAG)
            skopeo.run("inspect", "--tls-verify=false", "--creds", f"AWS:{password}", reference)
            grant = fetch_a_layer_by_its_download_url(server, "pushed/app")
            skopeo.run("delete", "--tls-verify=false", "--creds", f"AWS:{password}", reference)
        finally:
            server.stop()
        root_key, _ = root_keys(server)
        recorded = events(server)
        names = [e["eventName"] for e in recorded]
        put = named(server, "PutImage")
        assert len(put) == 1
        assert put[0]["requestParameters"]["repositoryName"] == "pushed/app"
        assert put[0]["requestParameters"]["imageTag"] == TAG
        assert put[0]["requestParameters"]["imageDigest"].startswith("sha256:")
        assert put[0]["eventSource"] == "ecr.amazonaws.com"
        assert put[0]["userIdentity"]["arn"] == ROOT_ARN
        assert names.count("CompleteLayerUpload") == 2  # the layer and the config
        assert all(
            e["requestParameters"]["layerDigests"][0].startswith("sha256:")
            for e in named(server, "CompleteLayerUpload")
        )
        deleted = named(server, "BatchDeleteImage")
        assert len(deleted) == 1
        assert deleted[0]["requestParameters"]["imageIds"] == [
            {"imageDigest": put[0]["requestParameters"]["imageDigest"]}
        ]
        pulls = named(server, "BatchGetImage")
        if audit_pulls:
            assert pulls
            assert all(e["readOnly"] is True for e in pulls)
        else:
            assert not pulls
            assert all(e["readOnly"] is False for e in recorded)
        # The caller is the token's principal, with the access key that obtained the token.
        assert all(e["userIdentity"]["accessKeyId"] == root_key for e in recorded if "arn" in e["userIdentity"])
        assert stat.S_IMODE((server.data_dir / "audit" / "audit.log").stat().st_mode) == 0o600
        # A download URL's grant opens a blob to whoever holds it: neither the trail nor the access log keeps it.
        assert grant not in "\n".join(audit_lines(server))
        assert grant not in server.log()
        assert "GET /v2/pushed/app/blobs/" in server.log()  # the access log was written
        urls = named(server, "GetDownloadUrlForLayer")
        assert [e["responseElements"]["downloadUrl"] for e in urls if e["responseElements"]] == (
            [HIDDEN] if audit_pulls else []
        )
        assert stat.S_IMODE((server.data_dir / "audit").stat().st_mode) == 0o700


def test_a_pull_through_import_is_recorded_as_the_service_linked_role_s_session(
    upstream: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    seed(upstream, tmp_path)
    create_rule(pullcache, upstream.url)
    wait_for_whole_image(pullcache, CACHED)  # the pull (anonymous: the root user) imports the image
    client(pullcache, "ecr").delete_pull_through_cache_rule(ecrRepositoryPrefix=PREFIX)
    for _ in range(20):
        if delete_role(client(pullcache, "iam"))["Status"] == "SUCCEEDED":
            break
    pullcache.stop()

    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/pullthroughcache"
    imports = [e for e in events(pullcache) if e["userIdentity"].get("invokedBy") == PULL_THROUGH]
    assert [e["eventName"] for e in imports] == ["CreateRepository", "PutImage"]
    put = imports[1]
    assert put["requestParameters"]["repositoryName"] == CACHED
    assert put["requestParameters"]["imageTag"] == TAG
    identity = put["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == session_arn
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert issuer["arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{PULL_THROUGH}/{ROLE}"
    assert put["sourceIPAddress"] == PULL_THROUGH
    assert put["eventSource"] == "ecr.amazonaws.com"
    # The deletion the role's task made, as IAM itself; the rule's creation and deletion, as the root user.
    deletions = [e for e in events(pullcache) if e["eventName"] == "DeleteRole"]
    assert deletions
    assert deletions[-1]["userIdentity"] == {"type": "AWSService", "invokedBy": "iam.amazonaws.com"}
    assert deletions[-1]["requestParameters"]["roleName"] == ROLE
    assert "errorCode" not in deletions[-1]
    assert named(pullcache, "CreatePullThroughCacheRule")[0]["userIdentity"]["arn"] == ROOT_ARN
    assert named(pullcache, "DeleteServiceLinkedRole")
    # The role the first rule's creation implied: the rule's creator's CreateServiceLinkedRole, invoked by ECR.
    (created,) = named(pullcache, "CreateServiceLinkedRole")
    assert created["eventSource"] == "iam.amazonaws.com"
    assert created["awsRegion"] == "us-east-1"
    assert created["userIdentity"]["arn"] == ROOT_ARN
    assert created["userIdentity"]["invokedBy"] == "ecr.amazonaws.com"
    assert created["sourceIPAddress"] == "ecr.amazonaws.com"
    assert created["requestParameters"] == {"aWSServiceName": PULL_THROUGH}
    assert created["responseElements"]["role"]["roleName"] == ROLE
    assert created["requestID"] == named(pullcache, "CreatePullThroughCacheRule")[0]["requestID"]
    assert "errorCode" not in created


@pytest.mark.slow
def test_two_workers_rotate_the_file_by_size_and_lose_no_line(tmp_path: Path) -> None:
    server = PullcacheServer(
        tmp_path / "data", workers=2, extra_args=["--audit-max-bytes", "16384", "--audit-keep", "200"]
    ).start()
    try:
        ecr = client(server, "ecr")
        names = [f"rotated/repo-{n}" for n in range(240)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda name: ecr.create_repository(repositoryName=name), names))
    finally:
        server.stop()
    directory = server.data_dir / "audit"
    rotated = list(directory.glob("audit.log.*"))
    assert len(rotated) >= 5
    for path in [*rotated, directory / "audit.log"]:
        assert path.stat().st_size <= 16384
    recorded = events(server)  # every line parses
    created = [e["requestParameters"]["repositoryName"] for e in recorded if e["eventName"] == "CreateRepository"]
    assert sorted(created) == sorted(names)
    assert len({e["eventID"] for e in recorded}) == len(recorded)


def test_the_audit_command_filters_and_refuses_bad_input_in_one_line(server: PullcacheServer) -> None:
    iam, ecr = client(server, "iam"), client(server, "ecr")
    iam.create_user(UserName="bo")
    iam.attach_user_policy(UserName="bo", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess")
    key = iam.create_access_key(UserName="bo")["AccessKey"]
    signed_by(server, "ecr", key).create_repository(repositoryName="filtered/by-bo")
    ecr.create_repository(repositoryName="filtered/by-root")
    server.stop()
    data_dir = str(server.data_dir)

    def printed(*arguments: str) -> list[dict[str, Any]]:
        done = audit_command("--data-dir", data_dir, *arguments)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    everything = printed()
    assert [e["eventID"] for e in everything] == [e["eventID"] for e in events(server)]
    creates: Callable[[list[dict[str, Any]]], list[str]] = lambda found: [  # noqa: E731
        e["requestParameters"]["repositoryName"] for e in found if e["eventName"] == "CreateRepository"
    ]
    assert creates(printed("--event-name", "CreateRepository")) == ["filtered/by-bo", "filtered/by-root"]
    assert {e["eventName"] for e in printed("--event-name", "CreateRepository")} == {"CreateRepository"}
    assert creates(printed("--principal", key["AccessKeyId"])) == ["filtered/by-bo"]
    assert creates(printed("--principal", f"arn:aws:iam::{ACCOUNT}:user/bo")) == ["filtered/by-bo"]
    assert creates(printed("--principal", ROOT_ARN)) == ["filtered/by-root"]
    assert len(printed("--since", "1h")) == len(everything)
    assert printed("--since", "2999-01-01T00:00:00Z") == []

    bad = audit_command("--data-dir", data_dir, "--since", "last tuesday")
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1
    assert "--since" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = audit_command("--data-dir", str(server.data_dir / "nowhere"))
    assert missing.returncode == 1
    assert len(missing.stderr.splitlines()) == 1
    assert "no data dir" in missing.stderr


def test_a_secret_the_model_marks_sensitive_is_hidden_in_a_call_not_implemented(server: PullcacheServer) -> None:
    private_key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-audit-4711\n-----END PRIVATE KEY-----"
    with pytest.raises(ClientError, match="InvalidAction"):
        client(server, "iam").upload_server_certificate(
            ServerCertificateName="web", CertificateBody="-----BEGIN CERTIFICATE-----", PrivateKey=private_key
        )
    server.stop()
    uploaded = named(server, "UploadServerCertificate")
    assert len(uploaded) == 1
    assert uploaded[0]["requestParameters"]["privateKey"] == HIDDEN
    assert uploaded[0]["requestParameters"]["serverCertificateName"] == "web"
    assert uploaded[0]["errorCode"] == "InvalidAction"
    for text in ("\n".join(audit_lines(server)), server.log()):
        assert "audit-4711" not in text


def test_secrets_in_an_aws_query_string_never_reach_the_access_log(server: PullcacheServer) -> None:
    password, token = "Passw0rd-Query-4711!", "eyJhbGciOiJSUzI1NiJ9.web-identity-0815.c2ln"
    queries = [
        {"Action": "CreateLoginProfile", "Version": "2010-05-08", "UserName": "ana", "Password": password},
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/web",
            "RoleSessionName": "s",
            "WebIdentityToken": token,
        },
    ]
    for query in queries:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/?{urllib.parse.urlencode(query)}", timeout=30)
    server.stop()
    log_text = server.log()
    # The access log wrote both requests, with the call each named.
    assert "Action=CreateLoginProfile&Version=2010-05-08" in log_text
    assert "Action=AssumeRoleWithWebIdentity&Version=2011-06-15" in log_text
    assert password not in log_text
    assert urllib.parse.quote(password) not in log_text
    assert token not in log_text


def test_the_dropped_audit_series_exists_before_any_event_is_dropped(server: PullcacheServer) -> None:
    found = scrape(f"{server.url}/metrics")
    assert found.status == 200
    series = {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(found.text)
        for sample in family.samples
        if sample.name == "pullcache_audit_events_total"
    }
    # Nothing dropped yet, and the series is there to say so (the server's start-up may have written events).
    assert set(series) == {(("outcome", "written"),), (("outcome", "dropped"),)}
    assert series[(("outcome", "dropped"),)] == 0.0


def test_iam_is_recorded_in_us_east_1_and_a_session_names_its_creation(server: PullcacheServer) -> None:
    region = "eu-west-1"
    iam = client(server, "iam", region_name=region)
    iam.create_role(RoleName="regional", AssumeRolePolicyDocument=TRUST_ROOT)
    iam.attach_role_policy(
        RoleName="regional", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
    )
    iam.create_user(UserName="roamer")
    iam.put_user_policy(UserName="roamer", PolicyName="assume", PolicyDocument=ASSUME_ANY)
    key = iam.create_access_key(UserName="roamer")["AccessKey"]
    sts = client(
        server,
        "sts",
        region_name=region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    session = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/regional", RoleSessionName="dated")["Credentials"]
    issued = session["Expiration"] - timedelta(seconds=3600)  # AssumeRole's default duration
    signed_by(server, "ecr", session).create_repository(repositoryName="audited/dated")
    server.stop()

    # IAM is global: its calls are recorded in us-east-1 whatever region signed; STS keeps the signing region.
    assert named(server, "CreateRole")[0]["awsRegion"] == "us-east-1"
    assert named(server, "AttachRolePolicy")[0]["awsRegion"] == "us-east-1"
    assert named(server, "AssumeRole")[0]["awsRegion"] == region
    attributes = named(server, "CreateRepository")[0]["userIdentity"]["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == "false"
    created = datetime.strptime(attributes["creationDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(created - issued) <= timedelta(seconds=1)


def test_an_upload_the_client_abandons_midway_is_recorded_with_its_error(pullcache: PullcacheServer) -> None:
    started = urllib.request.Request(f"{pullcache.url}/v2/abandoned/app/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(started, timeout=30) as answer:
        location = urllib.parse.urlsplit(answer.headers["Location"]).path
    host, port = pullcache.address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: {pullcache.address}\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n"
        )
        connection.sendall(head.encode() + b"x" * 100_000)  # a tenth of the chunk, then the client goes
        time.sleep(0.5)
    pullcache.stop()
    (part,) = named(pullcache, "UploadLayerPart")
    assert part["requestParameters"]["repositoryName"] == "abandoned/app"
    assert part["requestParameters"]["uploadId"] == location.rsplit("/", 1)[-1]
    assert part["errorCode"] == "ConnectionResetError"


def test_the_service_linked_role_a_rule_implies_is_recorded_refused_and_created(server: PullcacheServer) -> None:
    iam = client(server, "iam")
    iam.create_user(UserName="builder")
    iam.attach_user_policy(UserName="builder", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess")
    key = iam.create_access_key(UserName="builder")["AccessKey"]
    builder = signed_by(server, "ecr", key)
    with pytest.raises(ClientError, match="AccessDenied"):
        builder.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    allow = {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*"}
    iam.put_user_policy(
        UserName="builder",
        PolicyName="pull-through-role",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    builder.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    server.stop()

    refused, created = named(server, "CreateServiceLinkedRole")
    for event in (refused, created):
        assert event["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/builder"
        assert event["userIdentity"]["accessKeyId"] == key["AccessKeyId"]
        assert event["userIdentity"]["invokedBy"] == "ecr.amazonaws.com"
        assert event["eventSource"] == "iam.amazonaws.com"
    assert refused["errorCode"] == "AccessDenied"
    assert refused["responseElements"] is None
    assert "errorCode" not in created
    assert created["responseElements"]["role"]["arn"].endswith(f"/{PULL_THROUGH}/{ROLE}")
