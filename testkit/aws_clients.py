"""boto3 clients and the `aws` CLI pointed at a pullcache server, with the credentials it wrote on first start."""

from __future__ import annotations

import base64
import configparser
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from testkit.servers import PullcacheServer

CLI_TIMEOUT = 60
ACCOUNT = "000000000000"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
IAM_READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
ECR_FULL = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
ECR_READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


def root_keys(server: PullcacheServer) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(server.data_dir / "credentials")
    return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]


def client(server: PullcacheServer, service: str, **overrides: Any) -> Any:
    """A boto3 client for `service` signed with the root key unless `overrides` name other credentials; an HTTPS
    server's certificate verified with its CA."""
    key_id, secret = root_keys(server)
    options: dict[str, Any] = {
        "endpoint_url": server.url,
        "region_name": "us-east-1",
        "aws_access_key_id": key_id,
        "aws_secret_access_key": secret,
    }
    if server.ca_file is not None:
        options["verify"] = str(server.ca_file)
    options.update(overrides)
    return boto3.client(service, **options)


def cli_environment(server: PullcacheServer) -> dict[str, str]:
    """The environment in which `aws` finds the server's credentials and config files and nothing else."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["AWS_SHARED_CREDENTIALS_FILE"] = str(server.data_dir / "credentials")
    environment["AWS_CONFIG_FILE"] = str(server.data_dir / "config")
    return environment


def aws_cli(
    server: PullcacheServer, *arguments: str, key: Mapping[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `aws <arguments> --output json` the way a user would, with the files the server wrote, or with `key`'s
    credentials exported (an AccessKey of CreateAccessKey, or the Credentials of a session with its token)."""
    environment = cli_environment(server)
    if key is not None:
        environment["AWS_ACCESS_KEY_ID"] = key["AccessKeyId"]
        environment["AWS_SECRET_ACCESS_KEY"] = key["SecretAccessKey"]
        if "SessionToken" in key:
            environment["AWS_SESSION_TOKEN"] = key["SessionToken"]
    return subprocess.run(
        [str(Path(sys.executable).with_name("aws")), *arguments, "--output", "json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def cli_json(server: PullcacheServer, *arguments: str) -> Any:
    result = aws_cli(server, *arguments)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def signed_by(server: PullcacheServer, service: str, key: Mapping[str, Any]) -> Any:
    """A boto3 client for `service` signed with `key`: an AccessKey of CreateAccessKey, or the Credentials of
    AssumeRole (its SessionToken included)."""
    return client(
        server,
        service,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=key.get("SessionToken"),
    )


def registry_password(server: PullcacheServer, **overrides: Any) -> str:
    """A /v2/ password for the user `AWS`: the token of GetAuthorizationToken, as `get-login-password` prints it."""
    data = client(server, "ecr", **overrides).get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    return password


def registry_authorization(server: PullcacheServer, **overrides: Any) -> str:
    """An Authorization header for /v2/ with the root user's token (or the token of `overrides`' credentials)."""
    return "Basic " + base64.b64encode(f"AWS:{registry_password(server, **overrides)}".encode()).decode()


def client_error(call: Callable[[], Any]) -> tuple[int, str, str]:
    """(HTTP status, code, message) of the botocore ClientError `call` raises; fails the test if none."""
    try:
        call()
    except ClientError as raised:
        response = raised.response
        return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]
    raise AssertionError("the call raised no ClientError")
