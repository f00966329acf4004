"""The STS operation table: the operations pullcache serves, and STS's errors as AWS sends them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullcache.auth.call_context import CallContext
from pullcache.aws.errors import ErrorReply
from pullcache.aws.models import ServiceModels, load_service_models
from pullcache.aws.operations import OperationTable
from pullcache.iam.principal_policies import IamPrincipalPolicies
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_sts import SqlSessionStore
from pullcache.policy import MalformedPolicyDocument
from pullcache.sts.api.operations import sts_operations
from pullcache.sts.errors import (
    DURATION_EXCEEDS_MAX_SESSION,
    AssumeRoleDenied,
    InvalidParameterValue,
    PackedPolicyTooLarge,
    RootCannotAssumeRoles,
    StsValidationError,
)
from pullcache.sts.service import StsService
from tests.stores import sqlite_url

ROLE = "arn:aws:iam::123456789012:role/deployer"
USER = "arn:aws:iam::123456789012:user/bob"


@pytest.fixture(scope="module")
def models() -> ServiceModels:
    return load_service_models(["sts"])


@pytest.fixture
def table(models: ServiceModels, tmp_path: Path) -> OperationTable[CallContext]:
    # The stores are never touched: these tests only look the table up.
    engine = create_engine(sqlite_url(tmp_path / "unused.db"))
    store = SqlIamStore(engine)
    return sts_operations(models.get("sts"), StsService(store, IamPrincipalPolicies(store), SqlSessionStore(engine)))


def test_get_caller_identity_and_assume_role_have_handlers(table: OperationTable[CallContext]) -> None:
    assert table.find_handler("GetCallerIdentity") is not None
    assert table.find_handler("AssumeRole") is not None


@pytest.mark.parametrize(
    ("error", "reply"),
    [
        (
            AssumeRoleDenied(USER, "sts:AssumeRole", ROLE),
            ErrorReply(
                403, "AccessDenied", f"User: {USER} is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
            ),
        ),
        (RootCannotAssumeRoles(), ErrorReply(403, "AccessDenied", "Roles may not be assumed by root accounts.")),
        (
            StsValidationError(DURATION_EXCEEDS_MAX_SESSION),
            ErrorReply(400, "ValidationError", DURATION_EXCEEDS_MAX_SESSION),
        ),
        (StsValidationError.invalid_arn("x"), ErrorReply(400, "ValidationError", "x is invalid")),
        (InvalidParameterValue("dup"), ErrorReply(400, "InvalidParameterValue", "dup")),
        (MalformedPolicyDocument("bad"), ErrorReply(400, "MalformedPolicyDocument", "bad")),
        (
            PackedPolicyTooLarge(112),
            ErrorReply(400, "PackedPolicyTooLarge", "Packed policy consumes 112% of allotted space"),
        ),
    ],
)
def test_sts_errors_map_to_awss_codes_and_statuses(
    table: OperationTable[CallContext], error: Exception, reply: ErrorReply
) -> None:
    assert table.find_reply(error) == reply
