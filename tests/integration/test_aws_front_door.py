"""The AWS front door: first-start credentials, SigV4 authentication with AWS's error codes, and STS."""

from __future__ import annotations

import http.client
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from pullcache.aws.gateway import MAX_BODY_BYTES
from testkit.aws_clients import cli_json, client, root_keys
from testkit.servers import PullcacheServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("front-door") / "data").start()
    yield running
    running.stop()


def _error_code(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def test_first_start_writes_owner_only_credentials_and_a_config_naming_the_endpoint(server: PullcacheServer) -> None:
    credentials = server.data_dir / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    key_id, secret = root_keys(server)
    assert key_id.startswith("AKIA")
    assert len(key_id) == 20
    assert len(secret) == 40
    config = (server.data_dir / "config").read_text()
    assert "region = us-east-1" in config
    assert f"endpoint_url = {server.url}" in config


def test_aws_cli_with_the_written_files_gets_the_root_identity(server: PullcacheServer) -> None:
    identity = cli_json(server, "sts", "get-caller-identity")
    assert identity == {
        "UserId": "000000000000",
        "Account": "000000000000",
        "Arn": "arn:aws:iam::000000000000:root",
    }


def test_boto3_gets_the_root_identity(server: PullcacheServer) -> None:
    identity = client(server, "sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert identity["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_unknown_access_key_is_invalid_client_token_id(server: PullcacheServer) -> None:
    sts = client(server, "sts", aws_access_key_id="AKIAAAAAAAAAAAAAAAAA", aws_secret_access_key="x" * 40)
    assert _error_code(sts.get_caller_identity) == "InvalidClientTokenId"


def test_wrong_secret_is_signature_does_not_match(server: PullcacheServer) -> None:
    sts = client(server, "sts", aws_secret_access_key="y" * 40)
    assert _error_code(sts.get_caller_identity) == "SignatureDoesNotMatch"


def test_session_token_on_a_long_term_key_is_refused(server: PullcacheServer) -> None:
    sts = client(server, "sts", aws_session_token="not-a-session")
    assert _error_code(sts.get_caller_identity) == "InvalidClientTokenId"


def test_tampered_body_is_refused(server: PullcacheServer) -> None:
    sts = client(server, "sts")

    def tamper(request: Any, **_kwargs: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        request.body = body.replace(b"Version=2011-06-15", b"Version=2011-06-16")

    sts.meta.events.register("before-send.sts.GetCallerIdentity", tamper)
    assert _error_code(sts.get_caller_identity) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("skew", [timedelta(minutes=16), timedelta(minutes=-16)])
def test_request_signed_outside_the_clock_skew_window_is_refused(
    server: PullcacheServer, skew: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    skewed = datetime.now(UTC).replace(tzinfo=None) + skew
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    sts = client(server, "sts")
    with pytest.raises(ClientError) as raised:
        sts.get_caller_identity()
    assert raised.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert raised.value.response["Error"]["Message"].startswith("Signature ")


def test_unsigned_request_is_missing_authentication_token(server: PullcacheServer) -> None:
    request = urllib.request.Request(
        server.url + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in raised.value.read()


def test_a_layer_part_past_a_mebibyte_is_accepted(server: PullcacheServer) -> None:
    ecr = client(server, "ecr")
    ecr.create_repository(repositoryName="large-part")
    upload_id = ecr.initiate_layer_upload(repositoryName="large-part")["uploadId"]

    part = ecr.upload_layer_part(
        repositoryName="large-part",
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=(2 << 20) - 1,
        layerPartBlob=b"x" * (2 << 20),
    )

    assert part["lastByteReceived"] == (2 << 20) - 1


@pytest.mark.parametrize(
    ("headers", "shape"),
    [
        ({"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.UploadLayerPart"}, b'"__type":"RequestEntityTooLarge"'),
        ({}, b"<Code>RequestEntityTooLarge</Code>"),
    ],
)
def test_a_body_past_the_limit_is_refused_in_the_protocols_shape(
    server: PullcacheServer, headers: dict[str, str], shape: bytes
) -> None:
    connection = http.client.HTTPConnection(server.address, timeout=10)
    connection.putrequest("POST", "/")
    for name, value in {**headers, "Content-Length": str(MAX_BODY_BYTES + 1)}.items():
        connection.putheader(name, value)
    connection.endheaders()  # and no body: the declared length alone is refused

    response = connection.getresponse()

    assert response.status == 413
    assert shape in response.read()
    connection.close()


def test_root_key_from_the_environment_is_used_on_first_start_and_kept_after(tmp_path: Path) -> None:
    key_id, secret = "AKIAPULLCACHETESTKEY", "s" * 40
    environment = {"PULLCACHE_ROOT_ACCESS_KEY_ID": key_id, "PULLCACHE_ROOT_SECRET_ACCESS_KEY": secret}
    server = PullcacheServer(tmp_path / "data", environment=environment).start()
    try:
        assert root_keys(server) == (key_id, secret)
        assert client(server, "sts").get_caller_identity()["Account"] == "000000000000"
    finally:
        server.stop()
    restarted = PullcacheServer(tmp_path / "data", log_level="info").start()
    try:
        assert root_keys(restarted) == (key_id, secret)
        assert client(restarted, "sts").get_caller_identity()["Account"] == "000000000000"
        assert key_id in restarted.log()  # the log says which key, never its secret
        assert secret not in restarted.log()
    finally:
        restarted.stop()


def test_account_id_flag_names_the_account(tmp_path: Path) -> None:
    server = PullcacheServer(tmp_path / "data", extra_args=["--account-id", "123456789012"]).start()
    try:
        assert client(server, "sts").get_caller_identity()["Arn"] == "arn:aws:iam::123456789012:root"
    finally:
        server.stop()
