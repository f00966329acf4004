"""Every operation of the ECR, IAM, STS and Secrets Manager models that the server does not implement answers, in
its protocol's shape, that this server does not implement it, naming it: boto3 calls each one of them, the aws CLI
one per protocol.

Which operations the server implements is read off the tables it builds (testkit/compatibility.py), so an
operation implemented tomorrow leaves this list by itself. The codes are reasoned (aws/json_protocol.py,
aws/query_protocol.py): UnknownOperationException for JSON 1.1, InvalidAction for Query (AWS's common error for an
action a service does not have), both 400.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Final

import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ServiceModel

from pullcache.aws.models import SERVICE_NAMES, load_service_models
from testkit.aws_clients import aws_cli, client
from testkit.compatibility import served_operations
from testkit.servers import PullcacheServer

CODES: Final = {"json": "UnknownOperationException", "query": "InvalidAction"}
# boto3 sends each request as it is, once: no validation of the (absent) parameters, no retry.
AS_IS: Final = Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})


def not_implemented(operation: str) -> str:
    return f"The operation {operation} is not implemented by this server"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("unimplemented") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def models() -> dict[str, ServiceModel]:
    return {name: load_service_models([name]).get(name) for name in SERVICE_NAMES}


@pytest.fixture(scope="module")
def unimplemented(models: dict[str, ServiceModel]) -> dict[str, list[str]]:
    served = asyncio.run(served_operations())
    return {name: sorted(set(model.operation_names) - served[name]) for name, model in models.items()}


def answer(service: Any, operation: str) -> tuple[int, str, str] | str:
    """(status, code, message) of the error `operation` answers when called without parameters; a text saying
    what happened instead when it answers no error."""
    try:
        getattr(service, xform_name(operation))()
    except ClientError as raised:
        response = raised.response
        return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]
    return "no error"


@pytest.mark.parametrize("service_name", SERVICE_NAMES)
def test_every_unimplemented_operation_says_so_in_its_protocols_shape(
    server: PullcacheServer,
    models: dict[str, ServiceModel],
    unimplemented: dict[str, list[str]],
    service_name: str,
) -> None:
    service = client(server, service_name, config=AS_IS)
    code = CODES[models[service_name].protocol]
    operations = unimplemented[service_name]

    wrong = {
        operation: got
        for operation in operations
        if (got := answer(service, operation)) != (400, code, not_implemented(operation))
    }

    assert operations, f"{service_name}: every operation is implemented; this test has nothing left to check"
    assert wrong == {}


@pytest.mark.parametrize(
    ("service_name", "operation", "code"),
    [
        ("ecr", "GetSigningConfiguration", "UnknownOperationException"),
        ("iam", "GetAccountSummary", "InvalidAction"),
    ],
)
def test_the_aws_cli_prints_which_operation_is_not_implemented(
    server: PullcacheServer, unimplemented: dict[str, list[str]], service_name: str, operation: str, code: str
) -> None:
    assert operation in unimplemented[service_name]

    result = aws_cli(server, service_name, xform_name(operation, "-"))

    assert result.returncode != 0
    assert f"An error occurred ({code}) when calling the {operation} operation: {not_implemented(operation)}" in (
        result.stderr
    )


def test_an_operation_no_model_has_is_still_unknown_without_a_message(server: PullcacheServer) -> None:
    """AWS's own answer for a target its service does not know (aws/json_protocol.py): no message."""
    ecr = client(server, "ecr", config=AS_IS)

    def frobnicate(request: Any, **_: Any) -> None:
        request.headers.replace_header("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.Frobnicate")

    ecr.meta.events.register_first("before-sign.ecr.DescribeRegistry", frobnicate)
    with pytest.raises(ClientError) as raised:
        ecr.describe_registry()

    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"
    assert raised.value.response["Error"].get("Message", "") == ""
