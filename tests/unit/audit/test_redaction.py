"""Redaction: what each call's record hides (the table's rows, every member botocore marks sensitive), leaves out
and keeps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from pullcache.audit.redaction import HIDDEN, MAX_RESPONSE_BYTES, Part, Redactor
from pullcache.aws.models import SERVICE_NAMES, ServiceModels, load_service_models

SECRET = "s3cret-value-0815"


@pytest.fixture(scope="module")
def models() -> ServiceModels:
    return load_service_models()


@pytest.fixture(scope="module")
def redactor(models: ServiceModels) -> Redactor:
    return Redactor(models)


CASES: list[tuple[str, str, Part, dict[str, Any], dict[str, Any]]] = [
    (
        "secretsmanager",
        "CreateSecret",
        Part.REQUEST,
        {"Name": "db", "SecretString": "hunter2"},
        {"name": "db", "secretString": HIDDEN},
    ),
    (
        "secretsmanager",
        "PutSecretValue",
        Part.REQUEST,
        {"SecretId": "db", "SecretBinary": b"\x00\x01"},
        {"secretId": "db", "secretBinary": HIDDEN},
    ),
    (
        "secretsmanager",
        "GetRandomPassword",
        Part.RESPONSE,
        {"RandomPassword": "p4ss"},
        {"randomPassword": HIDDEN},
    ),
    (
        "iam",
        "CreateLoginProfile",
        Part.REQUEST,
        {"UserName": "ana", "Password": "Secret-1", "PasswordResetRequired": True},
        {"userName": "ana", "password": HIDDEN, "passwordResetRequired": True},
    ),
    (
        "iam",
        "UpdateLoginProfile",
        Part.REQUEST,
        {"UserName": "ana", "Password": "Secret-2"},
        {"userName": "ana", "password": HIDDEN},
    ),
    (
        "iam",
        "CreateAccessKey",
        Part.RESPONSE,
        {"AccessKey": {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "s3cr3t", "Status": "Active"}},
        {"accessKey": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": HIDDEN, "status": "Active"}},
    ),
    (
        "sts",
        "AssumeRole",
        Part.RESPONSE,
        {"Credentials": {"AccessKeyId": "ASIAEX", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "e"}},
        {
            "credentials": {
                "accessKeyId": "ASIAEX",
                "secretAccessKey": HIDDEN,
                "sessionToken": HIDDEN,
                "expiration": "e",
            }
        },
    ),
    (
        "sts",
        "GetSessionToken",
        Part.RESPONSE,
        {"Credentials": {"AccessKeyId": "ASIAEX", "SecretAccessKey": "s", "SessionToken": "t"}},
        {"credentials": {"accessKeyId": "ASIAEX", "secretAccessKey": HIDDEN, "sessionToken": HIDDEN}},
    ),
    (
        "ecr",
        "GetAuthorizationToken",
        Part.RESPONSE,
        {"authorizationData": [{"authorizationToken": "QVdTOnRva2Vu", "proxyEndpoint": "http://h"}]},
        {"authorizationData": [{"authorizationToken": HIDDEN, "proxyEndpoint": "http://h"}]},
    ),
    (
        "ecr",
        "UploadLayerPart",
        Part.REQUEST,
        {"repositoryName": "r", "uploadId": "u", "layerPartBlob": b"bytes"},
        {"repositoryName": "r", "uploadId": "u"},
    ),
    # A member of the same name in another service, or in the other part of the call, is left as it is.
    ("ecr", "CreateRepository", Part.REQUEST, {"repositoryName": "Password"}, {"repositoryName": "Password"}),
    ("iam", "CreateUser", Part.REQUEST, {"UserName": "ana", "Password": "x"}, {"userName": "ana", "password": "x"}),
    # What the models mark sensitive, in operations pullcache does not implement too.
    (
        "iam",
        "UploadServerCertificate",
        Part.REQUEST,
        {"ServerCertificateName": "web", "CertificateBody": "cert", "PrivateKey": SECRET},
        {"serverCertificateName": "web", "certificateBody": "cert", "privateKey": HIDDEN},
    ),
    ("iam", "CreateSAMLProvider", Part.REQUEST, {"AddPrivateKey": SECRET}, {"addPrivateKey": HIDDEN}),
    ("iam", "UpdateSAMLProvider", Part.REQUEST, {"AddPrivateKey": SECRET}, {"addPrivateKey": HIDDEN}),
    ("sts", "AssumeRoleWithSAML", Part.REQUEST, {"SAMLAssertion": SECRET}, {"sAMLAssertion": HIDDEN}),
    ("sts", "AssumeRoleWithWebIdentity", Part.REQUEST, {"WebIdentityToken": SECRET}, {"webIdentityToken": HIDDEN}),
    (
        "secretsmanager",
        "PutSecretValue",
        Part.REQUEST,
        {"SecretId": "db", "RotationToken": SECRET},
        {"secretId": "db", "rotationToken": HIDDEN},
    ),
    (
        "sts",
        "AssumeRoot",
        Part.RESPONSE,
        {"Credentials": {"AccessKeyId": "ASIAEX", "SecretAccessKey": SECRET, "SessionToken": SECRET}},
        {"credentials": {"accessKeyId": "ASIAEX", "secretAccessKey": HIDDEN, "sessionToken": HIDDEN}},
    ),
    (
        "iam",
        "CreateVirtualMFADevice",
        Part.RESPONSE,
        {"VirtualMFADevice": {"SerialNumber": "arn", "Base32StringSeed": b"seed", "QRCodePNG": b"png"}},
        {"virtualMFADevice": {"serialNumber": "arn", "base32StringSeed": HIDDEN, "qRCodePNG": HIDDEN}},
    ),
    (
        "iam",
        "ResetServiceSpecificCredential",
        Part.RESPONSE,
        {"ServiceSpecificCredential": {"ServicePassword": SECRET, "ServiceCredentialSecret": SECRET, "UserName": "a"}},
        {"serviceSpecificCredential": {"servicePassword": HIDDEN, "serviceCredentialSecret": HIDDEN, "userName": "a"}},
    ),
]


@pytest.mark.parametrize(("service", "operation", "part", "members", "expected"), CASES)
def test_secrets_are_hidden_and_bulk_dropped(
    redactor: Redactor, service: str, operation: str, part: Part, members: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert redactor.redacted(service, operation, part, members) == expected


def test_redaction_leaves_the_call_s_own_values_untouched(redactor: Redactor) -> None:
    members = {"Credentials": {"SecretAccessKey": "s", "SessionToken": "t"}}
    redactor.redacted("sts", "AssumeRole", Part.RESPONSE, members)
    assert members == {"Credentials": {"SecretAccessKey": "s", "SessionToken": "t"}}


def test_a_large_response_is_left_out_and_a_small_one_kept(redactor: Redactor) -> None:
    small = {"repository": {"repositoryName": "r"}}
    assert redactor.response_elements("ecr", "CreateRepository", small) == small
    large = {"images": [{"imageDigest": "sha256:" + "a" * 64}] * (MAX_RESPONSE_BYTES // 64)}
    assert redactor.response_elements("ecr", "PutImage", large) is None
    assert redactor.response_elements("ecr", "DeleteRepository", {}) is None


def _sensitive_leaves(shape: Shape, seen: frozenset[str] = frozenset()) -> Iterator[tuple[Any, Any]]:
    """For each member under `shape` that botocore marks sensitive: a value of `shape` holding SECRET there, and
    the same value as a record must show it (HIDDEN in place of the secret, members in CloudTrail's casing)."""
    if isinstance(shape, StructureShape) and shape.name not in seen:
        for name, member in shape.members.items():
            wire = name[:1].lower() + name[1:]
            if member.metadata.get("sensitive"):
                yield {name: SECRET}, {wire: HIDDEN}
                continue
            for value, shown in _sensitive_leaves(member, seen | {shape.name}):
                yield {name: value}, {wire: shown}
    elif isinstance(shape, ListShape):
        if shape.member.metadata.get("sensitive"):
            yield [SECRET], [HIDDEN]
        else:
            for value, shown in _sensitive_leaves(shape.member, seen):
                yield [value], [shown]
    elif isinstance(shape, MapShape):
        if shape.value.metadata.get("sensitive"):
            yield {"key": SECRET}, {"key": HIDDEN}
        else:
            for value, shown in _sensitive_leaves(shape.value, seen):
                yield {"key": value}, {"key": shown}


def test_every_member_botocore_marks_sensitive_is_hidden(models: ServiceModels, redactor: Redactor) -> None:
    checked = 0
    for service in SERVICE_NAMES:
        model = models.get(service)
        for operation in model.operation_names:
            found = model.operation_model(operation)
            for part, shape in ((Part.REQUEST, found.input_shape), (Part.RESPONSE, found.output_shape)):
                if shape is None:
                    continue
                for value, shown in _sensitive_leaves(shape):
                    assert redactor.redacted(service, operation, part, value) == shown, (service, operation, part)
                    checked += 1
    assert checked >= 30  # the walk found the models' sensitive members (passwords, keys, tokens, seeds)
