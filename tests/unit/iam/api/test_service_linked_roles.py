"""The service-linked role operations in IAM's table, and the wire codes of the errors they add."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullcache.auth.authorization import Authorizer, NoPrincipalPolicies
from pullcache.auth.call_context import CallContext
from pullcache.aws.errors import ErrorReply
from pullcache.aws.models import ServiceModels, load_service_models
from pullcache.aws.operations import OperationTable
from pullcache.iam.api.operations import iam_operations
from pullcache.iam.errors import DeletionTaskNotFound, EntityKind, ServiceRolePolicyNotAttachable, UnmodifiableEntity
from pullcache.iam.model import RoleUsage
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import ServiceLinkedRoleService
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_iam_tasks import SqlRoleDeletionTaskStore
from tests.stores import sqlite_url

OPERATIONS = ["CreateServiceLinkedRole", "DeleteServiceLinkedRole", "GetServiceLinkedRoleDeletionStatus"]
TASK_ID = "task/aws-service-role/pullthroughcache.ecr.amazonaws.com/AWSServiceRoleForECRPullThroughCache/x"


class NoUsage:
    async def find_role_usage(self, account_id: str) -> RoleUsage:
        return RoleUsage()


@pytest.fixture(scope="module")
def models() -> ServiceModels:
    return load_service_models(["iam"])


def _table(models: ServiceModels, tmp_path: Path, *, linked: bool) -> OperationTable[CallContext]:
    # The store is never touched: these tests only look the table up.
    engine = create_engine(sqlite_url(tmp_path / "unused.db"))
    store = SqlIamStore(engine)
    roles = ServiceLinkedRoleService(store, SqlRoleDeletionTaskStore(engine), NoUsage()) if linked else None
    return iam_operations(models.get("iam"), IamService.over(store), Authorizer(NoPrincipalPolicies()), roles)


def test_the_service_linked_role_operations_are_served_with_the_service(models: ServiceModels, tmp_path: Path) -> None:
    table = _table(models, tmp_path, linked=True)

    assert [operation for operation in OPERATIONS if table.find_handler(operation) is None] == []


def test_without_the_service_they_are_not_served(models: ServiceModels, tmp_path: Path) -> None:
    table = _table(models, tmp_path, linked=False)

    assert [operation for operation in OPERATIONS if table.find_handler(operation) is not None] == []


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (
            UnmodifiableEntity("AWSServiceRoleForECRPullThroughCache"),
            ErrorReply(
                400,
                "UnmodifiableEntity",
                "Cannot perform the operation on the protected role 'AWSServiceRoleForECRPullThroughCache' - "
                "this role is only modifiable by AWS",
            ),
        ),
        (
            ServiceRolePolicyNotAttachable(EntityKind.ROLE),
            ErrorReply(400, "PolicyNotAttachable", "Cannot attach a Service Role Policy to a Customer Role."),
        ),
        (
            DeletionTaskNotFound(TASK_ID),
            ErrorReply(404, "NoSuchEntity", f"The deletion task with id {TASK_ID} cannot be found."),
        ),
    ],
)
def test_service_linked_role_errors_map_to_awss_codes(
    models: ServiceModels, tmp_path: Path, error: Exception, reply: ErrorReply
) -> None:
    assert _table(models, tmp_path, linked=True).find_reply(error) == reply
