"""JSON 1.1 (ECR, Secrets Manager) against botocore's own JSON serializer and parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from pullcache.aws.errors import ErrorReply, MalformedRequest, UnknownOperation
from pullcache.aws.json_protocol import JsonProtocol, java_double
from pullcache.aws.models import ServiceModels
from pullcache.aws.validation_messages import VALIDATION_DIALECTS
from pullcache.aws.wire import WireRequest
from tests.unit.aws.botocore_wire import botocore_parse, botocore_request, without_metadata

ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921"
PUSHED_AT = datetime(2026, 11, 28, 1, 2, 3, 500000, tzinfo=UTC)
CREATED_AT = datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
def ecr(models: ServiceModels) -> JsonProtocol:
    return JsonProtocol(models.get("ecr"), VALIDATION_DIALECTS["ecr"])


@pytest.fixture
def secrets(models: ServiceModels) -> JsonProtocol:
    return JsonProtocol(models.get("secretsmanager"), VALIDATION_DIALECTS["secretsmanager"])


def ecr_request(operation: str, body: Any) -> WireRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WireRequest({"X-Amz-Target": f"{ECR_TARGET}.{operation}"}, raw)


def repository(name: str) -> dict[str, Any]:
    return {
        "repositoryArn": f"arn:aws:ecr:us-east-1:123456789012:repository/{name}",
        "registryId": "123456789012",
        "repositoryName": name,
        "repositoryUri": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}",
        "createdAt": CREATED_AT,
        "imageTagMutability": "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": False},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "CreateRepository",
            {
                "repositoryName": "team/app",
                "tags": [{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": ""}],
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
                "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:1:key/k"},
            },
        ),
        ("DescribeRepositories", {"repositoryNames": ["a1", "b2"], "maxResults": 2, "nextToken": "page-2"}),
        ("DescribeImages", {"repositoryName": "app", "filter": {"tagStatus": "TAGGED"}, "maxResults": 50}),
        (
            "UploadLayerPart",
            {
                "repositoryName": "app",
                "uploadId": "u",
                "partFirstByte": 0,
                "partLastByte": 3,
                "layerPartBlob": b"\x00\xffab",
            },
        ),
    ],
)
def test_botocore_request_parses_to_the_params_it_was_made_from(
    ecr: JsonProtocol, models: ServiceModels, operation: str, params: dict[str, Any]
) -> None:
    model = models.get("ecr").operation_model(operation)

    parsed = ecr.parse(botocore_request(model, params))

    assert parsed.operation.name == operation
    assert parsed.params == params


def test_create_repository_output_reads_back_through_botocore(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("CreateRepository")
    output = {"repository": repository("team/app")}

    parsed = botocore_parse(operation, ecr.serialize(operation, output, "req-1"))

    assert without_metadata(parsed) == output
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_describe_repositories_pagination_token_round_trips(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("DescribeRepositories")
    output = {"repositories": [repository("a1"), repository("b2")], "nextToken": "page-3"}

    parsed = botocore_parse(operation, ecr.serialize(operation, output, "req-1"))

    assert without_metadata(parsed) == output


def test_describe_images_timestamps_keep_their_fraction_of_a_second(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("DescribeImages")
    image = {
        "registryId": "123456789012",
        "repositoryName": "app",
        "imageDigest": "sha256:" + "a" * 64,
        "imageTags": ["v1", "latest"],
        "imageSizeInBytes": 12_345_678_901,
        "imagePushedAt": PUSHED_AT,
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
        "lastRecordedPullTime": CREATED_AT,
    }

    parsed = botocore_parse(operation, ecr.serialize(operation, {"imageDetails": [image]}, "req-1"))

    assert without_metadata(parsed) == {"imageDetails": [image]}


def test_output_is_compact_json_in_model_order_without_none(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("DescribeRepositories")
    output = {"repositories": [{"createdAt": CREATED_AT, "repositoryName": "app", "registryId": None}]}

    response = ecr.serialize(operation, output, "req-1")

    # 2026-11-28T01:02:03Z is 1795827723 s; Java prints that double as 1.795827723E9.
    assert response.body == b'{"repositories":[{"repositoryName":"app","createdAt":1.795827723E9}]}'
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"] == "req-1"


def test_blob_output_is_base64_and_reads_back(secrets: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("secretsmanager").operation_model("GetSecretValue")
    output = {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s", "Name": "s", "SecretBinary": b"\x00\x01\xfe"}

    response = secrets.serialize(operation, output, "req-1")

    assert b'"SecretBinary":"AAH+"' in response.body
    assert without_metadata(botocore_parse(operation, response)) == output


def test_output_member_not_in_the_shape_is_refused(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("DescribeRepositories")

    with pytest.raises(ValueError, match="repos"):
        ecr.serialize(operation, {"repos": []}, "req-1")


def test_naive_timestamp_is_refused(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("DescribeRepositories")

    with pytest.raises(TypeError, match="timestamp"):
        ecr.serialize(operation, {"repositories": [{"createdAt": datetime(2026, 1, 1)}]}, "req-1")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1795827723.0, "1.795827723E9"),
        (1551295405.298, "1.551295405298E9"),
        (1.7e9, "1.7E9"),
        (123.0, "123.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (9999999.5, "9999999.5"),
        (10000000.0, "1.0E7"),
        (-2.5e10, "-2.5E10"),
        (0.0, "0.0"),
    ],
)
def test_java_double_prints_like_java(value: float, text: str) -> None:
    assert java_double(value) == text


def test_null_members_are_absent(ecr: JsonProtocol) -> None:
    parsed = ecr.parse(ecr_request("DescribeRepositories", {"maxResults": None, "nextToken": "t"}))

    assert parsed.params == {"nextToken": "t"}


def test_empty_body_is_an_empty_input(ecr: JsonProtocol) -> None:
    assert ecr.parse(ecr_request("DescribeRepositories", b"")).params == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"maxResults": "10"}, "STRING_VALUE can not be converted to an Integer"),
        ({"maxResults": True}, "TRUE_VALUE can not be converted to an Integer"),
        ({"maxResults": 1.5}, "NUMBER_VALUE can not be converted to an Integer"),
        ({"nextToken": 7}, "NUMBER_VALUE cannot be converted to String"),
        ({"nextToken": {"a": 1}}, "Start of structure or map found where not expected."),
        ({"repositoryNames": "app"}, "STRING_VALUE can not be converted to a List"),
        ({"repositoryNames": [["app"]]}, "Start of list found where not expected."),
        ([], "Start of list found where not expected."),
    ],
)
def test_value_of_the_wrong_type_is_a_serialization_error(ecr: JsonProtocol, body: Any, message: str) -> None:
    with pytest.raises(MalformedRequest) as raised:
        ecr.parse(ecr_request("DescribeRepositories", body))

    assert raised.value.message == message
    assert ecr.reply_for(raised.value) == ErrorReply(400, "SerializationException", message)


def test_invalid_json_is_a_serialization_error(ecr: JsonProtocol) -> None:
    with pytest.raises(MalformedRequest):
        ecr.parse(ecr_request("DescribeRepositories", b'{"maxResults": '))


def test_invalid_base64_blob_is_a_serialization_error(ecr: JsonProtocol) -> None:
    body = {"repositoryName": "a1", "uploadId": "u", "partFirstByte": 0, "partLastByte": 1, "layerPartBlob": "*"}

    with pytest.raises(MalformedRequest):
        ecr.parse(ecr_request("UploadLayerPart", body))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Amz-Target": f"{ECR_TARGET}.Frobnicate"},
        {"X-Amz-Target": "secretsmanager.CreateRepository"},
        {"X-Amz-Target": "CreateRepository"},
        {},
    ],
)
def test_target_naming_no_operation_of_the_service_is_unknown(ecr: JsonProtocol, headers: dict[str, str]) -> None:
    with pytest.raises(UnknownOperation) as raised:
        ecr.parse(WireRequest(headers, b"{}"))

    rendered = ecr.render_error(ecr.reply_for(raised.value), "req-1")
    assert (rendered.http_status, rendered.body) == (400, b'{"__type":"UnknownOperationException"}')


def test_target_header_name_is_case_insensitive(ecr: JsonProtocol) -> None:
    request = WireRequest({"x-amz-target": f"{ECR_TARGET}.DescribeRepositories"}, b"{}")

    assert ecr.parse(request).operation.name == "DescribeRepositories"


def test_error_reads_back_through_botocore(ecr: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("ecr").operation_model("DescribeRepositories")
    message = "The repository with name 'app' does not exist in the registry with id '123456789012'"

    response = ecr.render_error(ErrorReply(400, "RepositoryNotFoundException", message), "req-9")
    parsed = botocore_parse(operation, response)

    assert parsed["Error"] == {"Code": "RepositoryNotFoundException", "Message": message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert json.loads(response.body) == {"__type": "RepositoryNotFoundException", "message": message}


def test_error_message_key_follows_the_model_casing(secrets: JsonProtocol, models: ServiceModels) -> None:
    operation = models.get("secretsmanager").operation_model("GetSecretValue")
    message = "Secrets Manager can't find the specified secret."

    response = secrets.render_error(ErrorReply(400, "ResourceNotFoundException", message), "req-1")

    assert json.loads(response.body) == {"__type": "ResourceNotFoundException", "Message": message}
    assert botocore_parse(operation, response)["Error"] == {"Code": "ResourceNotFoundException", "Message": message}


@pytest.mark.parametrize(
    "body",
    [
        b'{"repositoryNames": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"filter": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}",
        b"[" * 100_000,  # not even well formed: refused for its depth before the parser sees it
    ],
)
def test_a_body_nested_too_deep_is_a_serialization_error(ecr: JsonProtocol, body: bytes) -> None:
    with pytest.raises(MalformedRequest) as raised:
        ecr.parse(ecr_request("DescribeRepositories", body))

    assert ecr.reply_for(raised.value).http_status == 400
    assert ecr.reply_for(raised.value).error_code == "SerializationException"


def test_brackets_inside_strings_do_not_count_as_nesting(ecr: JsonProtocol) -> None:
    name = '[{"\\"' * 100

    parsed = ecr.parse(ecr_request("DescribeRepositories", {"registryId": name}))

    assert parsed.params == {"registryId": name}
