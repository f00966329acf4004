"""The IAM operation table: every operation pullcache promises is served, and IAM's errors map to AWS's codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullcache.auth.authorization import AccessDenied, Authorizer, NoPrincipalPolicies
from pullcache.auth.call_context import CallContext
from pullcache.aws.errors import ErrorReply
from pullcache.aws.models import ServiceModels, load_service_models
from pullcache.aws.operations import OperationTable
from pullcache.iam.api.operations import iam_operations
from pullcache.iam.errors import (
    DUPLICATE_TAG_KEYS,
    INVALID_ARN,
    POLICY_ATTACHED,
    DeleteConflict,
    EntityAlreadyExists,
    EntityKind,
    IamValidationError,
    InvalidInput,
    LimitExceeded,
    UserNotFound,
)
from pullcache.iam.service import IamService
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.policy import MalformedPolicyDocument, RequestPrincipal
from tests.stores import sqlite_url

SERVED = [
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "DeletePolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "DetachUserPolicy",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "ListAttachedUserPolicies",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListEntitiesForPolicy",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "DeleteGroupPolicy",
    "ListGroupPolicies",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "TagPolicy",
    "UntagPolicy",
    "ListPolicyTags",
    "PutUserPermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "GetAccountAuthorizationDetails",
]


@pytest.fixture(scope="module")
def models() -> ServiceModels:
    return load_service_models(["iam"])


@pytest.fixture
def table(models: ServiceModels, tmp_path: Path) -> OperationTable[CallContext]:
    # The store is never touched: these tests only look the table up.
    store = SqlIamStore(create_engine(sqlite_url(tmp_path / "unused.db")))
    return iam_operations(models.get("iam"), IamService.over(store), Authorizer(NoPrincipalPolicies()))


def test_every_promised_operation_has_a_handler(table: OperationTable[CallContext]) -> None:
    assert [operation for operation in SERVED if table.find_handler(operation) is None] == []


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (UserNotFound("alice"), ErrorReply(404, "NoSuchEntity", "The user with name alice cannot be found.")),
        (
            EntityAlreadyExists.named(EntityKind.ROLE, "r"),
            ErrorReply(409, "EntityAlreadyExists", "Role with name r already exists."),
        ),
        (DeleteConflict(POLICY_ATTACHED), ErrorReply(409, "DeleteConflict", POLICY_ATTACHED)),
        (
            LimitExceeded.quota("GroupsPerUser", 10),
            ErrorReply(409, "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10"),
        ),
        (InvalidInput(DUPLICATE_TAG_KEYS), ErrorReply(400, "InvalidInput", DUPLICATE_TAG_KEYS)),
        (
            MalformedPolicyDocument("Syntax errors in policy."),
            ErrorReply(400, "MalformedPolicyDocument", "Syntax errors in policy."),
        ),
        (IamValidationError(INVALID_ARN), ErrorReply(400, "ValidationError", INVALID_ARN)),
    ],
)
def test_iam_errors_map_to_awss_codes_and_statuses(
    table: OperationTable[CallContext], error: Exception, reply: ErrorReply
) -> None:
    assert table.find_reply(error) == reply


def test_access_denied_is_403_access_denied_with_the_authorizers_message(table: OperationTable[CallContext]) -> None:
    user = RequestPrincipal.user("arn:aws:iam::123456789012:user/bob", "AIDAAAAAAAAAAAAAAAAAA")
    denied = AccessDenied(user, "iam:ListUsers", "arn:aws:iam::123456789012:user/", "because of nothing")

    assert table.find_reply(denied) == ErrorReply(403, "AccessDenied", str(denied))


def test_an_unmapped_error_has_no_reply(table: OperationTable[CallContext]) -> None:
    assert table.find_reply(RuntimeError("disk on fire")) is None
