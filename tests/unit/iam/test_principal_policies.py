"""IamPrincipalPolicies: the policies the Authorizer applies to users, role sessions and the root user, read from
a real SQLite IAM store, and the Authorizer deciding with them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.iam.errors import EntityKind
from pullcache.iam.model import RoleUsage
from pullcache.iam.ports import RolePermissions, SessionPolicyRefs, StoredPolicy, UserPermissions
from pullcache.iam.principal_policies import INLINE_SESSION_POLICY_ID, IamPrincipalPolicies, ParsedDocuments
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import ServiceLinkedRoleService
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_iam_tasks import SqlRoleDeletionTaskStore
from pullcache.policy import PolicySourceType, RequestPrincipal
from pullcache.pullthrough.service_role import role_session
from tests.iam_stores import (
    ACCOUNT,
    OTHER_ACCOUNT,
    PULL_ONLY_ARN,
    READ_ONLY_ARN,
    identity_policy,
    sqlite_iam,
    trust_policy,
)
from tests.stores import sqlite_url

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
SERVICE_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/aws-service-role/AWSECRPullThroughCache_ServiceRolePolicy"
REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlIamStore]:
    async with sqlite_iam(tmp_path) as (iam_store, _):
        yield iam_store


@pytest.fixture
def iam(store: SqlIamStore) -> IamService:
    return IamService.over(store)


def session_of(role_arn: str, role_id: str, name: str = "ci", session_id: str | None = None) -> RequestPrincipal:
    role_name = role_arn.rsplit("/", 1)[-1]
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"
    return RequestPrincipal.role_session(session_arn, role_arn, role_id, session_id)


class MemorySessionPolicies:
    """The SessionPolicySource of sessions kept in a dict, by session id."""

    def __init__(self, **sessions: SessionPolicyRefs) -> None:
        self._sessions = sessions

    async def find_session_policies(self, session_id: str) -> SessionPolicyRefs | None:
        return self._sessions.get(session_id)


async def test_a_user_gets_its_inline_attached_and_group_policies_and_its_boundary(
    store: SqlIamStore, iam: IamService
) -> None:
    user = await iam.users.create_user(ACCOUNT, "alice", permissions_boundary=PULL_ONLY_ARN)
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.USER, "alice", "own", identity_policy("ecr:ListImages"))
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "alice", READ_ONLY_ARN)
    await iam.groups.create_group(ACCOUNT, "devs")
    await iam.groups.add_user_to_group(ACCOUNT, "devs", "alice")
    await iam.permissions.put_inline_policy(ACCOUNT, EntityKind.GROUP, "devs", "team", identity_policy("ecr:PutImage"))

    policies = await IamPrincipalPolicies(store).policies_for(RequestPrincipal.user(user.arn, user.user_id))

    assert [(p.source_id, p.source_type) for p in policies.identity] == [
        ("own", PolicySourceType.USER),
        (READ_ONLY_ARN, PolicySourceType.AWS_MANAGED),
        ("team", PolicySourceType.GROUP),
    ]
    assert policies.permissions_boundary is not None
    assert policies.permissions_boundary.source_id == PULL_ONLY_ARN


async def test_a_role_session_gets_the_roles_policies_and_boundary(store: SqlIamStore, iam: IamService) -> None:
    role = await iam.roles.create_role(ACCOUNT, "builder", trust_policy(), permissions_boundary=READ_ONLY_ARN)
    await iam.permissions.put_inline_policy(
        ACCOUNT, EntityKind.ROLE, "builder", "push", identity_policy("ecr:PutImage")
    )
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", PULL_ONLY_ARN)

    policies = await IamPrincipalPolicies(store).policies_for(session_of(role.arn, role.role_id))

    assert [p.source_id for p in policies.identity] == ["push", PULL_ONLY_ARN]
    assert policies.permissions_boundary is not None
    assert policies.permissions_boundary.source_id == READ_ONLY_ARN


async def test_a_session_of_a_role_deleted_and_created_again_gets_nothing(store: SqlIamStore, iam: IamService) -> None:
    old = await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    await iam.roles.delete_role(ACCOUNT, "builder")
    await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", ADMIN_ARN)

    policies = await IamPrincipalPolicies(store).policies_for(session_of(old.arn, old.role_id))

    assert (tuple(policies.identity), policies.permissions_boundary) == ((), None)


async def test_root_and_unknown_callers_get_no_policies(store: SqlIamStore) -> None:
    principals = IamPrincipalPolicies(store)
    gone = RequestPrincipal.user(f"arn:aws:iam::{ACCOUNT}:user/gone", "AIDAGONEGONEGONEGONE")

    for caller in (RequestPrincipal.root(ACCOUNT), RequestPrincipal.anonymous(), gone):
        policies = await principals.policies_for(caller)
        assert (tuple(policies.identity), policies.permissions_boundary) == ((), None)


async def test_the_authorizer_sees_a_policy_change_on_the_very_next_decision(
    store: SqlIamStore, iam: IamService
) -> None:
    user = await iam.users.create_user(ACCOUNT, "bob")
    authorizer = Authorizer(IamPrincipalPolicies(store))
    request = AccessRequest(RequestPrincipal.user(user.arn, user.user_id), "ecr:PutImage", REPOSITORY)
    with pytest.raises(AccessDenied):
        await authorizer.authorize(request)

    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "bob", ADMIN_ARN)
    await authorizer.authorize(request)
    await iam.permissions.put_inline_policy(
        ACCOUNT, EntityKind.USER, "bob", "no-push", identity_policy("ecr:PutImage", effect="Deny")
    )

    with pytest.raises(AccessDenied) as denied:
        await authorizer.authorize(request)
    assert str(denied.value) == (
        f"User: {user.arn} is not authorized to perform: ecr:PutImage on resource: {REPOSITORY} "
        "with an explicit deny in an identity-based policy"
    )


async def test_a_permissions_boundary_caps_an_administrator(store: SqlIamStore, iam: IamService) -> None:
    user = await iam.users.create_user(ACCOUNT, "capped", permissions_boundary=PULL_ONLY_ARN)
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.USER, "capped", ADMIN_ARN)
    authorizer = Authorizer(IamPrincipalPolicies(store))
    caller = RequestPrincipal.user(user.arn, user.user_id)

    pull = await authorizer.decide(AccessRequest(caller, "ecr:BatchGetImage", REPOSITORY))
    push = await authorizer.decide(AccessRequest(caller, "ecr:PutImage", REPOSITORY))

    assert (pull.allowed, push.allowed) == (True, False)
    with pytest.raises(AccessDenied) as denied:
        await authorizer.authorize(AccessRequest(caller, "ecr:PutImage", REPOSITORY))
    assert str(denied.value).endswith("because no permissions boundary allows the ecr:PutImage action")
    bare = await iam.users.create_user(ACCOUNT, "bare", permissions_boundary=PULL_ONLY_ARN)
    with pytest.raises(AccessDenied) as denied:  # nothing allows it: the identity-based policies are named
        await authorizer.authorize(AccessRequest(RequestPrincipal.user(bare.arn, bare.user_id), "ecr:PutImage"))
    assert str(denied.value).endswith("because no identity-based policy allows the ecr:PutImage action")


async def test_a_role_session_gets_its_inline_and_managed_session_policies(store: SqlIamStore, iam: IamService) -> None:
    role = await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", READ_ONLY_ARN)
    own = await iam.policies.create_policy(ACCOUNT, "own", identity_policy("ecr:ListImages"))
    foreign = await iam.policies.create_policy(OTHER_ACCOUNT, "foreign", identity_policy("ecr:ListImages"))
    missing = f"arn:aws:iam::{ACCOUNT}:policy/never-created"
    refs = SessionPolicyRefs(identity_policy("ecr:BatchGetImage"), (PULL_ONLY_ARN, own.arn, foreign.arn, missing))
    sessions = MemorySessionPolicies(ASIASESSIONEXAMPLE01=refs)

    policies = await IamPrincipalPolicies(store, sessions).policies_for(
        session_of(role.arn, role.role_id, session_id="ASIASESSIONEXAMPLE01")
    )

    assert [p.source_id for p in policies.identity] == [READ_ONLY_ARN]
    assert policies.session_policies is not None
    assert [(p.source_id, p.source_type) for p in policies.session_policies] == [
        (INLINE_SESSION_POLICY_ID, PolicySourceType.NONE),
        (PULL_ONLY_ARN, PolicySourceType.AWS_MANAGED),
        (own.arn, PolicySourceType.USER_MANAGED),  # another account's policy and a missing one allow nothing
    ]


async def test_a_role_session_given_no_session_policies_is_not_limited_by_any(
    store: SqlIamStore, iam: IamService
) -> None:
    role = await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    sessions = MemorySessionPolicies(ASIASESSIONEXAMPLE01=SessionPolicyRefs())

    policies = await IamPrincipalPolicies(store, sessions).policies_for(
        session_of(role.arn, role.role_id, session_id="ASIASESSIONEXAMPLE01")
    )

    assert policies.session_policies is None


@pytest.mark.parametrize("sessions", [MemorySessionPolicies(), None], ids=["unknown-session", "no-session-source"])
async def test_a_session_that_cannot_be_found_gets_no_policies_and_session_policies_that_allow_nothing(
    store: SqlIamStore, iam: IamService, sessions: MemorySessionPolicies | None
) -> None:
    role = await iam.roles.create_role(ACCOUNT, "builder", trust_policy())
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "builder", ADMIN_ARN)

    policies = await IamPrincipalPolicies(store, sessions).policies_for(
        session_of(role.arn, role.role_id, session_id="ASIAGONEGONEGONEGONE")
    )

    assert (tuple(policies.identity), policies.permissions_boundary, policies.session_policies) == ((), None, ())


async def test_the_authorizer_names_the_session_policy_that_refuses_what_the_role_allows(
    store: SqlIamStore, iam: IamService
) -> None:
    role = await iam.roles.create_role(ACCOUNT, "reader", trust_policy())
    await iam.permissions.attach_policy(ACCOUNT, EntityKind.ROLE, "reader", READ_ONLY_ARN)
    session_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:PutImage"], "Resource": "*"},
                {"Effect": "Deny", "Action": "ecr:GetDownloadUrlForLayer", "Resource": "*"},
            ],
        }
    )
    sessions = MemorySessionPolicies(ASIASESSIONEXAMPLE01=SessionPolicyRefs(session_policy))
    authorizer = Authorizer(IamPrincipalPolicies(store, sessions))
    caller = session_of(role.arn, role.role_id, session_id="ASIASESSIONEXAMPLE01")

    async def refusal(action: str) -> str:
        with pytest.raises(AccessDenied) as denied:
            await authorizer.authorize(AccessRequest(caller, action, REPOSITORY))
        return str(denied.value).removeprefix(
            f"User: {caller.arn} is not authorized to perform: {action} on resource: "
        )

    await authorizer.authorize(AccessRequest(caller, "ecr:BatchGetImage", REPOSITORY))
    assert await refusal("ecr:ListImages") == f"{REPOSITORY} because no session policy allows the ecr:ListImages action"
    assert await refusal("ecr:PutImage") == (  # the role does not allow it: the identity-based policies are named
        f"{REPOSITORY} because no identity-based policy allows the ecr:PutImage action"
    )
    assert await refusal("ecr:GetDownloadUrlForLayer") == f"{REPOSITORY} with an explicit deny in a session policy"


def test_parsed_documents_parse_each_text_once_and_forget_the_least_recently_used() -> None:
    documents = ParsedDocuments(size=2)
    first, second, third = identity_policy("ecr:A"), identity_policy("ecr:B"), identity_policy("ecr:C")

    parsed_first = documents.parse(first)
    parsed_second = documents.parse(second)
    assert documents.parse(first) is parsed_first  # first is now the most recently used
    documents.parse(third)  # past the size: the second goes

    assert documents.parse(first) is parsed_first
    assert documents.parse(second) is not parsed_second
    assert documents.parse(second) == parsed_second


class CountingPrincipals:
    """An IamPrincipals that counts how often a role's permissions are read."""

    def __init__(self, store: SqlIamStore) -> None:
        self._store = store
        self.role_reads = 0

    async def find_user_permissions(self, user_id: str) -> UserPermissions | None:
        return await self._store.find_user_permissions(user_id)

    async def find_role_permissions(self, role_arn: str) -> RolePermissions | None:
        self.role_reads += 1
        return await self._store.find_role_permissions(role_arn)

    async def record_role_use(self, role_arn: str, at: datetime, region: str) -> None:
        await self._store.record_role_use(role_arn, at, region)

    async def find_managed_policy(self, arn: str) -> StoredPolicy | None:
        return await self._store.find_managed_policy(arn)


class NoRules:
    async def find_role_usage(self, account_id: str) -> RoleUsage:
        return RoleUsage()


async def test_a_services_session_of_a_service_linked_role_reads_its_unchangeable_policies_once_a_second(
    tmp_path: Path,
) -> None:
    engine = create_engine(sqlite_url(tmp_path / "roles.db"))
    await migrate(engine)
    await SqlAccountStore(engine).ensure_account(ACCOUNT)
    store = SqlIamStore(engine)
    role = await ServiceLinkedRoleService(store, SqlRoleDeletionTaskStore(engine), NoRules()).ensure_role(ACCOUNT)
    principals = CountingPrincipals(store)
    policies = IamPrincipalPolicies(principals)
    service_session = role_session(role)  # no session credentials: the service's own session

    first = await policies.policies_for(service_session)
    second = await policies.policies_for(service_session)

    assert [p.source_id for p in first.identity] == [SERVICE_ROLE_POLICY_ARN]
    assert second == first
    assert principals.role_reads == 1
    customer = await IamService.over(store).roles.create_role(ACCOUNT, "builder", trust_policy())
    for _ in range(2):
        await policies.policies_for(session_of(customer.arn, customer.role_id))
    assert principals.role_reads == 3  # a customer role's session reads its policies every time
    await engine.dispose()
