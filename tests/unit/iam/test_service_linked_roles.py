"""ServiceLinkedRoleService over a real SQLite store: creating ECR's pull through cache role, deleting it as a task
that fails while the role is in use and succeeds once it is not, and what ECR's own pull-through side calls."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pullcache.iam.aws_managed import ECR_PULL_THROUGH_CACHE_POLICY_ARN
from pullcache.iam.errors import DeletionTaskNotFound, EntityKind, InvalidInput, RoleNotFound
from pullcache.iam.model import DeletionStatus, RegionUsage, RoleUsage
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import IN_USE_BY_RULES, IN_USE_NOW, STALE_AFTER, ServiceLinkedRoleService
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_iam_tasks import SqlRoleDeletionTaskStore
from pullcache.pullthrough.ports import ServiceLinkedRoles
from tests.iam_stores import ACCOUNT, OTHER_ACCOUNT, trust_policy
from tests.stores import sqlite_url

SERVICE = "pullthroughcache.ecr.amazonaws.com"
ROLE = "AWSServiceRoleForECRPullThroughCache"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{SERVICE}/{ROLE}"
DELAY = timedelta(hours=1)  # long enough that no deletion starts on its own during a test
TWO_REGIONS = (RegionUsage("eu-west-1", ("hub", "quay")), RegionUsage("us-east-1", ("ROOT",)))
TASK_ID = f"task/aws-service-role/{SERVICE}/{ROLE}/" + "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class FakeUsage:
    """The linked service's answer, as the test sets it."""

    def __init__(self) -> None:
        self.usage = RoleUsage()
        self.asked = 0

    async def find_role_usage(self, account_id: str) -> RoleUsage:
        self.asked += 1
        return self.usage


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Fixture:
    roles: ServiceLinkedRoleService
    iam: IamService
    tasks: SqlRoleDeletionTaskStore
    usage: FakeUsage
    clock: FakeClock


@pytest.fixture
async def fx(tmp_path: Path) -> AsyncIterator[Fixture]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    for account in (ACCOUNT, OTHER_ACCOUNT):
        await SqlAccountStore(engine).ensure_account(account)
    store, tasks, usage, clock = SqlIamStore(engine), SqlRoleDeletionTaskStore(engine), FakeUsage(), FakeClock()
    roles = ServiceLinkedRoleService(store, tasks, usage, clock, deletion_delay=DELAY)
    try:
        yield Fixture(roles, IamService.over(store, clock), tasks, usage, clock)
    finally:
        await roles.aclose()
        await engine.dispose()


async def _status_after_delay(fx: Fixture, task_id: str) -> tuple[DeletionStatus, str | None, tuple[RegionUsage, ...]]:
    fx.clock.now += DELAY
    task = await fx.roles.get_deletion_status(ACCOUNT, task_id)
    return task.status, task.reason, task.usage


# -- creating ---------------------------------------------------------------------------------------------------


async def test_created_role_trusts_the_service_under_its_path_with_the_policy_attached(fx: Fixture) -> None:
    created = await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)

    role = await fx.iam.roles.get_role(ACCOUNT, ROLE)
    assert (role.name, role.path, role.arn) == (ROLE, f"/aws-service-role/{SERVICE}/", ROLE_ARN)
    assert role.role_id == created.role_id
    assert role.role_id.startswith("AROA")
    assert json.loads(role.assume_role_policy) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}],
    }
    assert role.max_session_duration == 3600
    assert role.description is not None
    attached = await fx.iam.permissions.list_attached_policies(ACCOUNT, EntityKind.ROLE, ROLE)
    assert [(p.name, p.arn) for p in attached.items] == [
        ("AWSECRPullThroughCache_ServiceRolePolicy", ECR_PULL_THROUGH_CACHE_POLICY_ARN)
    ]


async def test_a_description_given_at_creation_is_the_roles(fx: Fixture) -> None:
    role = await fx.roles.create_service_linked_role(ACCOUNT, SERVICE, description="ours")

    assert role.description == "ours"


async def test_a_second_creation_is_invalid_input_naming_the_taken_role(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)

    with pytest.raises(InvalidInput) as raised:
        await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    assert raised.value.message == (
        "Service role name AWSServiceRoleForECRPullThroughCache has been taken in this account, "
        "please try a different suffix."
    )


async def test_the_same_role_may_exist_in_another_account(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    other = await fx.roles.create_service_linked_role(OTHER_ACCOUNT, SERVICE)

    assert other.arn == f"arn:aws:iam::{OTHER_ACCOUNT}:role/aws-service-role/{SERVICE}/{ROLE}"


async def test_a_service_pullcache_does_not_know_is_invalid_input(fx: Fixture) -> None:
    with pytest.raises(InvalidInput):
        await fx.roles.create_service_linked_role(ACCOUNT, "replication.ecr.amazonaws.com")
    with pytest.raises(InvalidInput):
        await fx.roles.create_service_linked_role(ACCOUNT, SERVICE.upper())  # service principals are case-sensitive
    assert await fx.roles.find_role(ACCOUNT) is None


async def test_a_custom_suffix_is_invalid_input_for_this_service(fx: Fixture) -> None:
    with pytest.raises(InvalidInput) as raised:
        await fx.roles.create_service_linked_role(ACCOUNT, SERVICE, custom_suffix="debug")

    assert raised.value.message == f"Custom suffix is not allowed for {SERVICE}"
    assert await fx.roles.find_role(ACCOUNT) is None


async def test_ensure_role_creates_the_role_once(fx: Fixture) -> None:
    linked: ServiceLinkedRoles = fx.roles  # what the pull-through cache asks of IAM
    assert await linked.find_role(ACCOUNT) is None

    first = await linked.ensure_role(ACCOUNT)
    second = await linked.ensure_role(ACCOUNT)

    assert first.role_id == second.role_id
    assert first.path == f"/aws-service-role/{SERVICE}/"
    found = await fx.roles.find_role(ACCOUNT)
    assert found is not None
    assert found.role_id == first.role_id


async def test_a_role_that_only_shares_the_name_is_not_the_service_linked_role(fx: Fixture) -> None:
    await fx.iam.roles.create_role(ACCOUNT, ROLE, trust_policy())

    assert await fx.roles.find_role(ACCOUNT) is None
    with pytest.raises(InvalidInput):
        await fx.roles.ensure_role(ACCOUNT)


async def test_recorded_use_is_the_roles_last_use(fx: Fixture) -> None:
    role = await fx.roles.ensure_role(ACCOUNT)
    used_at = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)

    await fx.roles.record_use(role, used_at, "eu-west-1")

    fetched = await fx.iam.roles.get_role(ACCOUNT, ROLE)
    assert (fetched.last_used_at, fetched.last_used_region) == (used_at, "eu-west-1")


# -- deleting ---------------------------------------------------------------------------------------------------


async def test_deletion_is_a_task_not_started_until_it_is_due(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)

    task_id = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)

    assert re.fullmatch(TASK_ID, task_id)
    task = await fx.roles.get_deletion_status(ACCOUNT, task_id)
    assert (task.status, task.reason, task.usage) == (DeletionStatus.NOT_STARTED, None, ())
    assert fx.usage.asked == 0
    assert await fx.roles.find_role(ACCOUNT) is not None


async def test_asking_again_while_the_task_is_pending_returns_the_same_task(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)

    first = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)
    second = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE.lower())

    assert first == second


async def test_deletion_fails_naming_each_region_and_its_rules_while_rules_exist(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    fx.usage.usage = RoleUsage(TWO_REGIONS, busy=True)
    task_id = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)

    status, reason, usage = await _status_after_delay(fx, task_id)

    assert (status, reason, usage) == (DeletionStatus.FAILED, IN_USE_BY_RULES, TWO_REGIONS)
    assert await fx.roles.find_role(ACCOUNT) is not None
    again = await fx.roles.get_deletion_status(ACCOUNT, task_id)  # a finished task does not run again
    assert (again.status, again.usage, fx.usage.asked) == (DeletionStatus.FAILED, TWO_REGIONS, 1)


async def test_deletion_fails_while_the_service_is_busy_with_the_role(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    fx.usage.usage = RoleUsage(busy=True)
    task_id = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)

    assert await _status_after_delay(fx, task_id) == (DeletionStatus.FAILED, IN_USE_NOW, ())
    assert await fx.roles.find_role(ACCOUNT) is not None


async def test_a_retry_after_a_failure_is_a_new_task_that_deletes_the_role_and_its_attachment(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    fx.usage.usage = RoleUsage(TWO_REGIONS)
    failed = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)
    assert (await _status_after_delay(fx, failed))[0] is DeletionStatus.FAILED

    fx.usage.usage = RoleUsage()
    retried = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)

    assert retried != failed
    assert await _status_after_delay(fx, retried) == (DeletionStatus.SUCCEEDED, None, ())
    with pytest.raises(RoleNotFound):
        await fx.iam.roles.get_role(ACCOUNT, ROLE)
    policy = await fx.iam.policies.get_policy(ACCOUNT, ECR_PULL_THROUGH_CACHE_POLICY_ARN)
    assert policy.attachment_count == 0
    assert (await fx.roles.get_deletion_status(ACCOUNT, failed)).status is DeletionStatus.FAILED


async def test_the_role_can_be_created_again_after_it_was_deleted(fx: Fixture) -> None:
    first = await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    await _status_after_delay(fx, await fx.roles.delete_service_linked_role(ACCOUNT, ROLE))

    again = await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)

    assert again.arn == first.arn
    assert again.role_id != first.role_id
    attached = await fx.iam.permissions.list_attached_policies(ACCOUNT, EntityKind.ROLE, ROLE)
    assert [p.arn for p in attached.items] == [ECR_PULL_THROUGH_CACHE_POLICY_ARN]


async def test_a_task_left_in_progress_by_a_dead_worker_runs_again_once_stale(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    task_id = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)
    task = await fx.tasks.find_task(ACCOUNT, task_id)
    assert task is not None
    assert await fx.tasks.claim_task(task, fx.clock.now)
    fx.clock.now += STALE_AFTER - timedelta(seconds=1)

    still = await fx.roles.get_deletion_status(ACCOUNT, task_id)
    assert (still.status, fx.usage.asked) == (DeletionStatus.IN_PROGRESS, 0)

    fx.clock.now += timedelta(seconds=1)
    assert (await fx.roles.get_deletion_status(ACCOUNT, task_id)).status is DeletionStatus.SUCCEEDED


async def test_a_task_is_claimed_by_one_worker_only(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    task_id = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)
    task = await fx.tasks.find_task(ACCOUNT, task_id)
    assert task is not None

    claims = [await fx.tasks.claim_task(task, fx.clock.now), await fx.tasks.claim_task(task, fx.clock.now)]

    assert claims == [True, False]


async def test_without_a_delay_the_deletion_runs_on_the_event_loop(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    await SqlAccountStore(engine).ensure_account(ACCOUNT)
    tasks = SqlRoleDeletionTaskStore(engine)
    roles = ServiceLinkedRoleService(SqlIamStore(engine), tasks, FakeUsage())
    try:
        await roles.create_service_linked_role(ACCOUNT, SERVICE)
        task_id = await roles.delete_service_linked_role(ACCOUNT, ROLE)
        for _ in range(200):  # bounded: the task needs a few database round trips
            task = await tasks.find_task(ACCOUNT, task_id)
            if task is not None and task.status is DeletionStatus.SUCCEEDED:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the deletion did not run")
        assert await roles.find_role(ACCOUNT) is None
    finally:
        await roles.aclose()
        await engine.dispose()


async def test_deleting_a_missing_role_is_role_not_found(fx: Fixture) -> None:
    with pytest.raises(RoleNotFound):
        await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)


async def test_deleting_a_role_that_is_not_service_linked_is_invalid_input(fx: Fixture) -> None:
    await fx.iam.roles.create_role(ACCOUNT, "ordinary", trust_policy())

    with pytest.raises(InvalidInput):
        await fx.roles.delete_service_linked_role(ACCOUNT, "ordinary")
    assert (await fx.iam.roles.get_role(ACCOUNT, "ordinary")).name == "ordinary"


@pytest.mark.parametrize("task_id", ["", "task/aws-service-role/x", "arn:aws:iam::123456789012:role/r", "not a task"])
async def test_text_that_is_no_task_id_is_invalid_input(fx: Fixture, task_id: str) -> None:
    with pytest.raises(InvalidInput):
        await fx.roles.get_deletion_status(ACCOUNT, task_id)


async def test_a_task_id_naming_no_task_of_the_account_is_not_found(fx: Fixture) -> None:
    await fx.roles.create_service_linked_role(ACCOUNT, SERVICE)
    task_id = await fx.roles.delete_service_linked_role(ACCOUNT, ROLE)
    unknown = f"task/aws-service-role/{SERVICE}/{ROLE}/00000000-0000-4000-8000-000000000000"

    for account, asked in ((ACCOUNT, unknown), (OTHER_ACCOUNT, task_id)):
        with pytest.raises(DeletionTaskNotFound) as raised:
            await fx.roles.get_deletion_status(account, asked)
        assert raised.value.message == f"The deletion task with id {asked} cannot be found."
