"""ECR's edge: every domain error reaches the wire as the model's error shape, AccessDenied and extra fields too."""

from __future__ import annotations

import json
from typing import Final

import pytest
from botocore.model import ServiceModel

from pullcache.auth.authorization import AccessDenied
from pullcache.aws.json_protocol import JsonProtocol
from pullcache.aws.models import load_service_models
from pullcache.aws.validation_messages import VALIDATION_DIALECTS
from pullcache.core.scopes import RegistryScope
from pullcache.ecr import errors
from pullcache.ecr.api.operations import ERROR_SHAPES, EcrOperationTable
from pullcache.policy import RequestPrincipal
from pullcache.registry.errors import StorageFull, UploadDiscarded

SCOPE: Final = RegistryScope("123456789012", "us-east-1")


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return load_service_models(["ecr"]).get("ecr")


def test_every_ecr_domain_error_has_a_shape_of_its_name(model: ServiceModel) -> None:
    domain = {cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.EcrError)}
    own = {cls: shape for cls, shape in ERROR_SHAPES.items() if issubclass(cls, errors.EcrError)}

    assert set(own) == domain - {errors.EcrError}
    for cls, shape in own.items():
        assert shape == f"{cls.__name__}Exception"
    assert set(ERROR_SHAPES) - set(own) == {StorageFull, UploadDiscarded}  # the registry's, answered by ECR
    EcrOperationTable(model, ERROR_SHAPES)  # raises for a shape the model lacks


@pytest.mark.parametrize(
    ("error", "shape"),
    [
        pytest.param(StorageFull(), "LimitExceededException", id="a-write-refused"),
        pytest.param(UploadDiscarded("u-1"), "UploadNotFoundException", id="an-upload-discarded"),
    ],
)
def test_a_full_storage_is_answered_with_the_shape_a_retry_would_get_and_says_why(
    model: ServiceModel, error: StorageFull, shape: str
) -> None:
    reply = EcrOperationTable(model, ERROR_SHAPES).find_reply(error)
    assert reply is not None

    body = json.loads(JsonProtocol(model, VALIDATION_DIALECTS["ecr"]).render_error(reply, "r-1").body)

    assert reply.http_status == 400
    assert body == {"__type": shape, "message": error.message}
    assert "storage is full" in error.message


def test_access_denied_is_access_denied_exception_with_awss_text(model: ServiceModel) -> None:
    denied = AccessDenied(
        RequestPrincipal.user("arn:aws:iam::123456789012:user/dev", "AIDAEXAMPLE"),
        "ecr:CreateRepository",
        SCOPE.repository_arn("team/app"),
        "because no identity-based policy allows the ecr:CreateRepository action",
    )

    reply = EcrOperationTable(model, ERROR_SHAPES).find_reply(denied)

    assert reply is not None
    assert (reply.http_status, reply.error_code) == (400, "AccessDeniedException")
    assert reply.message == str(denied)


def test_an_invalid_layer_part_tells_the_last_valid_byte_on_the_wire(model: ServiceModel) -> None:
    error = errors.InvalidLayerPart(SCOPE, "team/app", "u-1", 10, 4)
    reply = EcrOperationTable(model, ERROR_SHAPES).find_reply(error)
    assert reply is not None

    body = json.loads(JsonProtocol(model, VALIDATION_DIALECTS["ecr"]).render_error(reply, "r-1").body)

    assert body == {
        "__type": "InvalidLayerPartException",
        "message": error.message,
        "registryId": "123456789012",
        "repositoryName": "team/app",
        "uploadId": "u-1",
        "lastValidByteReceived": 4,
    }


def test_an_error_ecr_does_not_know_is_not_mapped(model: ServiceModel) -> None:
    assert EcrOperationTable(model, ERROR_SHAPES).find_reply(RuntimeError("bug")) is None
