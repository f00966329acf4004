"""Operation tables and the endpoint: requests made by botocore, answers read by botocore."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from pullcache.aws.models import ServiceModels
from pullcache.aws.operations import OperationTable, ServiceEndpoint
from pullcache.aws.wire import Params, WireRequest
from tests.unit.aws.botocore_wire import botocore_parse, botocore_request, without_metadata

CREATED = datetime(2026, 11, 28, 1, 2, 3, tzinfo=UTC)


@dataclass(frozen=True)
class Caller:
    account_id: str


class RepositoryMissing(Exception):
    pass


class RepositoryGone(RepositoryMissing):
    pass


class EntityMissing(Exception):
    pass


@dataclass
class Recorder:
    calls: list[tuple[Params, Caller]]

    async def create_repository(self, params: Params, caller: Caller) -> dict[str, Any]:
        self.calls.append((params, caller))
        name = params["repositoryName"]
        return {"repository": {"registryId": caller.account_id, "repositoryName": name, "createdAt": CREATED}}


async def missing_repository(params: Params, caller: Caller) -> dict[str, Any]:
    raise RepositoryGone(f"The repository with name '{params['repositoryName']}' does not exist")


async def missing_role(params: Params, caller: Caller) -> dict[str, Any]:
    raise EntityMissing(f"The role with name {params['RoleName']} cannot be found.")


async def broken(params: Params, caller: Caller) -> dict[str, Any]:
    raise RuntimeError("disk on fire")


async def misspelled_output(params: Params, caller: Caller) -> dict[str, Any]:
    return {"repositorys": []}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder([])


@pytest.fixture
def ecr(models: ServiceModels, recorder: Recorder) -> ServiceEndpoint[Caller]:
    table = OperationTable[Caller](models.get("ecr"), errors={RepositoryMissing: "RepositoryNotFoundException"})
    table.register("CreateRepository", recorder.create_repository)
    table.register("DescribeImages", missing_repository)
    table.register("ListImages", broken)
    table.register("DescribeRepositories", misspelled_output)
    return ServiceEndpoint.for_table(table)


@pytest.fixture
def iam(models: ServiceModels) -> ServiceEndpoint[Caller]:
    table = OperationTable[Caller](models.get("iam"), errors={EntityMissing: "NoSuchEntityException"})
    table.register("GetRole", missing_role)
    table.register("ListRoles", broken)
    return ServiceEndpoint.for_table(table)


async def call(
    endpoint: ServiceEndpoint[Caller], models: ServiceModels, operation: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Send `params` as botocore would and read the answer as botocore would."""
    model = endpoint.table.model.operation_model(operation)
    response = await endpoint.handle(botocore_request(model, params), Caller("123456789012"), "req-1")
    parsed = botocore_parse(model, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    return parsed


async def test_handler_gets_the_validated_params_and_the_context(
    ecr: ServiceEndpoint[Caller], models: ServiceModels, recorder: Recorder
) -> None:
    parsed = await call(ecr, models, "CreateRepository", {"repositoryName": "team/app"})

    assert recorder.calls == [({"repositoryName": "team/app"}, Caller("123456789012"))]
    expected = {"registryId": "123456789012", "repositoryName": "team/app", "createdAt": CREATED}
    assert without_metadata(parsed) == {"repository": expected}


async def test_invalid_params_never_reach_the_handler(
    ecr: ServiceEndpoint[Caller], models: ServiceModels, recorder: Recorder
) -> None:
    parsed = await call(ecr, models, "CreateRepository", {"repositoryName": "a"})

    assert recorder.calls == []
    assert parsed["Error"]["Code"] == "InvalidParameterException"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_query_validation_error_reads_back_through_botocore(
    iam: ServiceEndpoint[Caller], models: ServiceModels
) -> None:
    parsed = await call(iam, models, "GetRole", {})

    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: "
        "Member must not be null",
    }


async def test_operation_without_a_handler_is_unknown_in_json_and_says_it_is_not_implemented(
    ecr: ServiceEndpoint[Caller], models: ServiceModels
) -> None:
    parsed = await call(ecr, models, "DeleteRepository", {"repositoryName": "app"})

    assert parsed["Error"] == {
        "Code": "UnknownOperationException",
        "Message": "The operation DeleteRepository is not implemented by this server",
    }
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_operation_without_a_handler_is_an_invalid_action_in_query_and_says_it_is_not_implemented(
    iam: ServiceEndpoint[Caller], models: ServiceModels
) -> None:
    parsed = await call(iam, models, "DeleteUser", {"UserName": "alice"})

    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "InvalidAction",
        "Message": "The operation DeleteUser is not implemented by this server",
    }
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_operation_without_a_handler_is_refused_before_its_input_is_validated(
    ecr: ServiceEndpoint[Caller], models: ServiceModels
) -> None:
    parsed = await call(ecr, models, "DeleteRepository", {})

    assert parsed["Error"]["Code"] == "UnknownOperationException"


async def test_domain_error_becomes_its_error_shape(ecr: ServiceEndpoint[Caller], models: ServiceModels) -> None:
    parsed = await call(ecr, models, "DescribeImages", {"repositoryName": "app"})

    assert parsed["Error"] == {
        "Code": "RepositoryNotFoundException",
        "Message": "The repository with name 'app' does not exist",
    }
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_query_domain_error_takes_code_and_status_from_the_model(
    iam: ServiceEndpoint[Caller], models: ServiceModels
) -> None:
    parsed = await call(iam, models, "GetRole", {"RoleName": "builder"})

    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "The role with name builder cannot be found.",
    }
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("operation", ["ListImages", "DescribeRepositories"])
async def test_unmapped_failure_is_a_logged_internal_failure(
    ecr: ServiceEndpoint[Caller], models: ServiceModels, caplog: pytest.LogCaptureFixture, operation: str
) -> None:
    params = {"repositoryName": "app"} if operation == "ListImages" else {}
    with caplog.at_level(logging.ERROR, logger="pullcache.aws.operations"):
        parsed = await call(ecr, models, operation, params)

    assert parsed["Error"] == {
        "Code": "InternalFailure",
        "Message": "The request processing has failed because of an unknown error, exception or failure.",
    }
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert [record.levelname for record in caplog.records] == ["ERROR"]


async def test_query_internal_failure_is_a_receiver_fault(iam: ServiceEndpoint[Caller], models: ServiceModels) -> None:
    parsed = await call(iam, models, "ListRoles", {})

    assert (parsed["Error"]["Type"], parsed["Error"]["Code"]) == ("Receiver", "InternalFailure")


async def test_malformed_body_is_answered_not_raised(ecr: ServiceEndpoint[Caller]) -> None:
    request = WireRequest({"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository"}, b"{not json")

    response = await ecr.handle(request, Caller("123456789012"), "req-1")

    assert response.http_status == 400
    assert b'"__type":"SerializationException"' in response.body


def test_registering_an_operation_the_model_lacks_is_refused(models: ServiceModels) -> None:
    table = OperationTable[Caller](models.get("ecr"))

    with pytest.raises(ValueError, match="CreateRepo"):
        table.register("CreateRepo", missing_repository)


def test_registering_an_operation_twice_is_refused(models: ServiceModels) -> None:
    table = OperationTable[Caller](models.get("ecr"))
    table.register("DescribeImages", missing_repository)

    with pytest.raises(ValueError, match="already"):
        table.register("DescribeImages", missing_repository)


def test_error_table_naming_no_error_shape_is_refused(models: ServiceModels) -> None:
    with pytest.raises(KeyError, match="RepositoryNotFound"):
        OperationTable[Caller](models.get("ecr"), errors={RepositoryMissing: "RepositoryNotFound"})


def test_an_operation_callers_send_unsigned_is_answered_unsigned_only_when_it_has_no_handler(
    models: ServiceModels,
) -> None:
    table = OperationTable[Caller](models.get("sts"))
    table.register("AssumeRoleWithSAML", missing_role)
    endpoint = ServiceEndpoint.for_table(table)
    web_identity = table.model.operation_model("AssumeRoleWithWebIdentity")
    params = {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s", "WebIdentityToken": "t"}

    answer = endpoint.answer_unsigned(botocore_request(web_identity, params), "req-1")

    assert answer is not None
    assert botocore_parse(web_identity, answer)["Error"] == {
        "Type": "Sender",
        "Code": "InvalidAction",
        "Message": "The operation AssumeRoleWithWebIdentity is not implemented by this server",
    }
    saml = table.model.operation_model("AssumeRoleWithSAML")
    assert endpoint.answer_unsigned(botocore_request(saml, {}), "req-2") is None  # served: it needs a signature
    caller = table.model.operation_model("GetCallerIdentity")
    assert endpoint.answer_unsigned(botocore_request(caller, {}), "req-3") is None  # signed only
