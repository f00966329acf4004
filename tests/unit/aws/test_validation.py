"""Constraint violations and the exact error each service answers for them.

The expected texts are AWS's own, as clients have recorded them (sources in the comments); where a case
combines recorded forms (another member, another bound), the comment says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from pullcache.aws.models import ServiceModels
from pullcache.aws.validation import Constraint, Validator
from pullcache.aws.validation_messages import VALIDATION_DIALECTS

ARN_PATTERN = "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+"
TAG_VALUE_PATTERN = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"
TAG_KEY_PATTERN = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"


def answer(models: ServiceModels, service: str, operation: str, params: dict[str, Any]) -> tuple[str, str] | None:
    """The (code, message) `service` answers for `params`, or None when they are valid."""
    model = models.get(service)
    violations = Validator(model).validate(model.operation_model(operation).input_shape, params)
    if not violations:
        return None
    dialect = VALIDATION_DIALECTS[service]
    return dialect.error_code, dialect.render(violations)


def coral(*errors: str) -> str:
    count = len(errors)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors)


def at(value: str, path: str, requirement: str) -> str:
    return f"{value} at '{path}' failed to satisfy constraint: {requirement}"


def ecr(path: str, requirement: str) -> str:
    return f"Invalid parameter at '{path}' failed to satisfy constraint: '{requirement}'"


NOT_NULL = "Member must not be null"
USER_NAME_PATTERN = "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
GOOD_ROLE_ARN = "arn:aws:iam::123456789012:role/r"


@pytest.mark.parametrize(
    ("service", "operation", "params", "message"),
    [
        # Recorded verbatim from IAM (CreateUser without UserName).
        ("iam", "CreateUser", {}, coral(at("Value null", "userName", NOT_NULL))),
        # IAM's recorded roleName form, for userName (same limit of 64).
        (
            "iam",
            "CreateUser",
            {"UserName": "u" * 65},
            coral(at(f"Value '{'u' * 65}'", "userName", "Member must have length less than or equal to 64")),
        ),
        ("iam", "CreateUser", {"UserName": "bad name"}, coral(at("Value 'bad name'", "userName", USER_NAME_PATTERN))),
        # Recorded: IAM CreateUser with a tag value outside the pattern (there at tags.6).
        (
            "iam",
            "CreateUser",
            {"UserName": "alice", "Tags": [{"Key": "a", "Value": "ok"}, {"Key": "b", "Value": "x&y"}]},
            coral(
                at(
                    "Value 'x&y'",
                    "tags.2.member.value",
                    f"Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}",
                )
            ),
        ),
        (
            "iam",
            "CreateUser",
            {"UserName": "alice", "Tags": [{"Key": "a"}]},
            coral(at("Value null", "tags.1.member.value", NOT_NULL)),
        ),
        (
            "iam",
            "ListUsers",
            {"MaxItems": 0},
            coral(at("Value '0'", "maxItems", "Member must have value greater than or equal to 1")),
        ),
        # Members in model order: Path comes before UserName.
        (
            "iam",
            "CreateUser",
            {"Path": "home", "UserName": "a b"},
            coral(
                at(
                    "Value 'home'",
                    "path",
                    "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
                ),
                at("Value 'a b'", "userName", USER_NAME_PATTERN),
            ),
        ),
        # Recorded verbatim from STS (AssumeRole with an empty role ARN): pattern before length.
        (
            "sts",
            "AssumeRole",
            {"RoleArn": "", "RoleSessionName": "build"},
            coral(
                at("Value ''", "roleArn", f"Member must satisfy regular expression pattern: {ARN_PATTERN}"),
                at("Value ''", "roleArn", "Member must have length greater than or equal to 20"),
            ),
        ),
        # A list of scalars is reported once, at the list, with every constraint of its members.
        (
            "sts",
            "AssumeRole",
            {"RoleArn": GOOD_ROLE_ARN, "RoleSessionName": "build", "TransitiveTagKeys": ["ok", "x&y"]},
            coral(
                at(
                    "Value '[ok, x&y]'",
                    "transitiveTagKeys",
                    "Member must satisfy constraint: ["
                    f"Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}, "
                    "Member must have length less than or equal to 128, "
                    "Member must have length greater than or equal to 1]",
                )
            ),
        ),
        # Recorded verbatim from Secrets Manager (GetSecretValue without SecretId).
        ("secretsmanager", "GetSecretValue", {}, coral(at("Value null", "secretId", NOT_NULL))),
        # Sensitive values are not shown (recorded: OpenSearch's masterUserName).
        (
            "secretsmanager",
            "CreateSecret",
            {"Name": "s", "SecretString": "x" * 65537},
            coral(at("Value", "secretString", "Member must have length less than or equal to 65536")),
        ),
    ],
)
def test_coral_services_list_every_violation(
    models: ServiceModels, service: str, operation: str, params: dict[str, Any], message: str
) -> None:
    code = "ValidationException" if service == "secretsmanager" else "ValidationError"

    assert answer(models, service, operation, params) == (code, message)


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        # Recorded verbatim from ECR.
        (
            "DescribeRepositories",
            {"maxResults": 1001},
            ecr("maxResults", "Member must have value less than or equal to 1000"),
        ),
        (
            "GetAuthorizationToken",
            {"registryIds": ["12345678901"]},
            ecr(
                "registryIds",
                "Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]",
            ),
        ),
        (
            "BatchDeleteImage",
            {"repositoryName": "app", "imageIds": []},
            ecr("imageIds", "Member must have length greater than or equal to 1"),
        ),
        (
            "BatchDeleteImage",
            {"repositoryName": "app", "imageIds": [{"imageTag": str(n)} for n in range(101)]},
            ecr("imageIds", "Member must have length less than or equal to 100"),
        ),
        (
            "CreateRepository",
            {"repositoryName": "Bad_Name!"},
            ecr(
                "repositoryName",
                "must satisfy regular expression "
                "'[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*'",
            ),
        ),
        (
            "CreateRepository",
            {"repositoryName": "a"},
            ecr("repositoryName", "must have length greater than or equal to 2"),
        ),
        (
            "PutImageTagMutability",
            {"repositoryName": "app", "imageTagMutability": "SOMETIMES"},
            ecr(
                "imageTagMutability",
                "Member must satisfy enum value set: "
                "[MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]",
            ),
        ),
        ("CreateRepository", {}, ecr("repositoryName", NOT_NULL)),
        # Only the first violation is named.
        (
            "DescribeRepositories",
            {"registryId": "x", "maxResults": 0},
            ecr("registryId", "Member must satisfy regular expression pattern: [0-9]{12}"),
        ),
    ],
)
def test_ecr_names_the_first_violation_as_an_invalid_parameter(
    models: ServiceModels, operation: str, params: dict[str, Any], message: str
) -> None:
    assert answer(models, "ecr", operation, params) == ("InvalidParameterException", message)


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("ecr", "CreateRepository", {"repositoryName": "team/app-1.x__y", "tags": [{"Key": "k", "Value": ""}]}),
        ("ecr", "DescribeRepositories", {"registryId": "123456789012", "maxResults": 1000, "repositoryNames": ["ab"]}),
        (
            "iam",
            "CreateUser",
            {"UserName": "alice+ops@example.com", "Path": "/a/b/", "Tags": [{"Key": "émoji ok", "Value": ""}]},
        ),
        ("sts", "GetCallerIdentity", {}),
        ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s1"}),
    ],
)
def test_valid_params_have_no_violations(
    models: ServiceModels, service: str, operation: str, params: dict[str, Any]
) -> None:
    assert answer(models, service, operation, params) is None


def test_thirteen_digits_do_not_match_a_twelve_digit_pattern(models: ServiceModels) -> None:
    model = models.get("ecr")
    shape = model.operation_model("DescribeRepositories").input_shape

    violations = Validator(model).validate(shape, {"registryId": "1234567890123"})

    assert [(v.path, v.constraint) for v in violations] == [("registryId", Constraint.PATTERN)]


def test_every_pattern_of_the_loaded_models_compiles(models: ServiceModels) -> None:
    for name in ("ecr", "iam", "sts", "secretsmanager"):
        Validator(models.get(name))
