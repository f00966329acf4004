"""Service-linked roles: the roles an AWS service keeps in an account, which only that service may change.

pullcache knows one, ECR's pull through cache role:

    AWSServiceRoleForECRPullThroughCache    path /aws-service-role/pullthroughcache.ecr.amazonaws.com/
        trusts pullthroughcache.ecr.amazonaws.com (sts:AssumeRole), session limit 3600 s
        has AWSECRPullThroughCache_ServiceRolePolicy attached

Creating one is immediate (CreateServiceLinkedRole, or `ensure_role` when ECR creates a pull through cache
rule). Deleting one is a task: `delete_service_linked_role` records it NOT_STARTED and returns its id, and the
task runs on the event loop once `deletion_delay` has passed. A task that is due but still pending when its
status is asked for runs there and then, and one left IN_PROGRESS longer than STALE_AFTER is claimed again, so a
worker that died never strands a task. A run claims its task (IN_PROGRESS), asks the linked service whether it
still uses the role, and ends

    FAILED     while pull through cache rules exist in any region (Reason, and RoleUsageList naming each region
               and its rules' prefixes), or while the service is busy with the role
    SUCCEEDED  once the role and its attachment are deleted

Asking again while a task is pending returns that task's id; asking after it ended starts a new task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from pullcache.iam.arns import IdPrefix, new_unique_id, role_arn
from pullcache.iam.aws_managed import ECR_PULL_THROUGH_CACHE_POLICY_ARN
from pullcache.iam.errors import DeletionTaskNotFound, InvalidInput, RoleNotFound
from pullcache.iam.lookups import get_role, role_ref
from pullcache.iam.model import (
    DEFAULT_MAX_SESSION_DURATION,
    Clock,
    DeletionStatus,
    DeletionTask,
    Role,
    utc_now,
)
from pullcache.iam.ports import DeletionTaskObserver, IamSession, RoleDeletionTasks, RoleUseStore, ServiceRoleUsage
from pullcache.iam.roles import SERVICE_LINKED_PATH, is_service_linked

log = logging.getLogger(__name__)

ECR_PULL_THROUGH_CACHE_SERVICE = "pullthroughcache.ecr.amazonaws.com"
ECR_PULL_THROUGH_CACHE_ROLE = "AWSServiceRoleForECRPullThroughCache"
DEFAULT_DELETION_DELAY = timedelta(0)
STALE_AFTER = timedelta(minutes=1)  # an IN_PROGRESS task older than this lost its worker

# Sourced: IAM's text for a service-linked role that exists already, and for a suffix its service refuses.
NAME_TAKEN = "Service role name {name} has been taken in this account, please try a different suffix."
SUFFIX_NOT_ALLOWED = "Custom suffix is not allowed for {service}"
# Reasoned: IAM's texts for these were not found.
UNKNOWN_SERVICE = "Unrecognized service principal: {service}"
NOT_SERVICE_LINKED = "Role {name} is not a service-linked role."
INVALID_TASK_ID = "Invalid deletion task id: {task_id}"
IN_USE_BY_RULES = (
    "The service-linked role is used by pull through cache rules. Delete the pull through cache rules in every "
    "Region, then delete the role."
)
IN_USE_NOW = "Amazon ECR is still using the service-linked role. Wait a few minutes and try again."

_UUID = r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
_TASK_ID = re.compile(rf"task/aws-service-role/([\w+=,.@-]+)/([\w+=,.@-]+)/{_UUID}")


@dataclass(frozen=True, slots=True)
class LinkedService:
    """An AWS service with a service-linked role, and the role as IAM creates it."""

    service_name: str
    role_name: str
    policy_arn: str
    description: str

    @property
    def path(self) -> str:
        return f"{SERVICE_LINKED_PATH}{self.service_name}/"

    def role_arn(self, account: str) -> str:
        return role_arn(account, self.path, self.role_name)

    def trust_policy(self) -> str:
        statement = {"Effect": "Allow", "Principal": {"Service": self.service_name}, "Action": "sts:AssumeRole"}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


ECR_PULL_THROUGH_CACHE = LinkedService(
    ECR_PULL_THROUGH_CACHE_SERVICE,
    ECR_PULL_THROUGH_CACHE_ROLE,
    ECR_PULL_THROUGH_CACHE_POLICY_ARN,
    # Reasoned: the description AWS gives this role was not found; this is the ECR documentation's sentence.
    "Allows Amazon ECR to push images to your repositories through the pull through cache workflow.",
)
LINKED_SERVICES: Mapping[str, LinkedService] = {ECR_PULL_THROUGH_CACHE.service_name: ECR_PULL_THROUGH_CACHE}


def find_linked_service(service_name: str) -> LinkedService | None:
    """The known service named exactly `service_name` (service principals are case-sensitive)."""
    return LINKED_SERVICES.get(service_name)


class ServiceLinkedRoleService:
    """The service-linked roles of every account; implements pullthrough.ports.ServiceLinkedRoles for ECR's."""

    def __init__(
        self,
        store: RoleUseStore,
        tasks: RoleDeletionTasks,
        usage: ServiceRoleUsage,
        clock: Clock = utc_now,
        deletion_delay: timedelta = DEFAULT_DELETION_DELAY,
        observer: DeletionTaskObserver | None = None,
    ) -> None:
        """`observer`: told of each deletion task that ran to its end (the audit trail)."""
        self._observer = observer
        self._store = store
        self._tasks = tasks
        self._usage = usage
        self._clock = clock
        self._delay = deletion_delay
        self._running: set[asyncio.Task[None]] = set()

    # -- pullthrough.ports.ServiceLinkedRoles ---------------------------------------------------------------

    async def find_role(self, account_id: str) -> Role | None:
        async with self._store.reading() as session:
            role = await session.find_role(account_id, ECR_PULL_THROUGH_CACHE.role_name)
        return role if role is not None and is_service_linked(role.path) else None

    async def ensure_role(self, account_id: str) -> Role:
        """Raises InvalidInput when a role that is not service-linked has the role's name."""
        async with self._store.writing() as session:
            role = await session.find_role(account_id, ECR_PULL_THROUGH_CACHE.role_name)
            if role is None:
                return await self._add_role(session, account_id, ECR_PULL_THROUGH_CACHE, None)
        if not is_service_linked(role.path):
            raise InvalidInput(NAME_TAKEN.format(name=ECR_PULL_THROUGH_CACHE.role_name))
        return role

    async def record_use(self, role: Role, at: datetime, region: str) -> None:
        await self._store.record_role_use(role.arn, at, region)

    # -- IAM's operations -----------------------------------------------------------------------------------

    async def create_service_linked_role(
        self, account: str, service_name: str, description: str | None = None, custom_suffix: str | None = None
    ) -> Role:
        """Raises InvalidInput for a service pullcache does not know, a suffix, or a role that exists."""
        service = find_linked_service(service_name)
        if service is None:
            raise InvalidInput(UNKNOWN_SERVICE.format(service=service_name))
        if custom_suffix is not None:
            raise InvalidInput(SUFFIX_NOT_ALLOWED.format(service=service_name))
        async with self._store.writing() as session:
            if await session.find_role(account, service.role_name) is not None:
                raise InvalidInput(NAME_TAKEN.format(name=service.role_name))
            return await self._add_role(session, account, service, description)

    async def delete_service_linked_role(self, account: str, role_name: str) -> str:
        """Start deleting the role (or find the deletion already pending); returns the task's id. Raises
        RoleNotFound, or InvalidInput for a role that is not service-linked."""
        async with self._store.reading() as session:
            role = await get_role(session, account, role_name)
        if not is_service_linked(role.path):
            raise InvalidInput(NOT_SERVICE_LINKED.format(name=role.name))
        service_name = role.path.removeprefix(SERVICE_LINKED_PATH).strip("/")
        now = self._clock()
        new = DeletionTask(
            task_id=f"task{SERVICE_LINKED_PATH}{service_name}/{role.name}/{uuid.uuid4()}",
            account=account,
            role_name=role.name,
            status=DeletionStatus.NOT_STARTED,
            created_at=now,
            updated_at=now,
        )
        task = await self._tasks.add_or_find_pending(new)
        if task.task_id == new.task_id:
            self._schedule(task)
        return task.task_id

    async def get_deletion_status(self, account: str, task_id: str) -> DeletionTask:
        """The task as it is now: its status, and for a FAILED one its reason and what used the role. A task
        that is due (or whose worker is gone) runs first. Raises InvalidInput for text that is no task id,
        DeletionTaskNotFound for an id that names no task of `account`."""
        if parse_task_id(task_id) is None:
            raise InvalidInput(INVALID_TASK_ID.format(task_id=task_id))
        task = await self._tasks.find_task(account, task_id)
        if task is None:
            raise DeletionTaskNotFound(task_id)
        if self._runnable(task, self._clock()):
            task = await self._run(task)
        return task

    async def aclose(self) -> None:
        """Cancel the deletions waiting on the event loop (their tasks stay pending and run when asked for)."""
        for running in list(self._running):
            running.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    # -- creating ---------------------------------------------------------------------------------------------

    async def _add_role(
        self, session: IamSession, account: str, service: LinkedService, description: str | None
    ) -> Role:
        now = self._clock()
        role = Role(
            role_id=new_unique_id(IdPrefix.ROLE),
            account=account,
            name=service.role_name,
            path=service.path,
            arn=service.role_arn(account),
            created_at=now,
            assume_role_policy=service.trust_policy(),
            description=description if description is not None else service.description,
            max_session_duration=DEFAULT_MAX_SESSION_DURATION,
        )
        await session.add_role(role)
        await session.attach_policy(role_ref(role), service.policy_arn, now)
        return role

    # -- deleting ---------------------------------------------------------------------------------------------

    def _runnable(self, task: DeletionTask, now: datetime) -> bool:
        if task.status is DeletionStatus.NOT_STARTED:
            return now >= task.created_at + self._delay
        return task.status is DeletionStatus.IN_PROGRESS and now >= task.updated_at + STALE_AFTER

    def _schedule(self, task: DeletionTask) -> None:
        running = asyncio.get_running_loop().create_task(self._run_later(task))
        self._running.add(running)
        running.add_done_callback(self._running.discard)

    async def _run_later(self, task: DeletionTask) -> None:
        await asyncio.sleep(self._delay.total_seconds())
        try:
            await self._run(task)
        except Exception:
            # The task stays IN_PROGRESS; asking for its status after STALE_AFTER runs it again.
            log.exception("deleting a service-linked role failed", extra={"fields": {"task": task.task_id}})

    async def _run(self, task: DeletionTask) -> DeletionTask:
        """Run `task` unless another worker claimed it first; returns the task as it is now."""
        claimed = replace(task, status=DeletionStatus.IN_PROGRESS, updated_at=self._clock())
        if not await self._tasks.claim_task(task, claimed.updated_at):
            return await self._tasks.find_task(task.account, task.task_id) or task
        usage = await self._usage.find_role_usage(task.account)
        if usage.regions:
            finished = replace(claimed, status=DeletionStatus.FAILED, reason=IN_USE_BY_RULES, usage=usage.regions)
        elif usage.busy:
            finished = replace(claimed, status=DeletionStatus.FAILED, reason=IN_USE_NOW)
        else:
            await self._delete_role(task.account, task.role_name)
            finished = replace(claimed, status=DeletionStatus.SUCCEEDED)
        finished = replace(finished, updated_at=self._clock())
        await self._tasks.finish_task(finished)
        if self._observer is not None:
            try:
                self._observer.deletion_finished(finished)
            except Exception:  # a record that cannot be kept never fails the deletion it records
                log.exception("recording a service-linked role's deletion failed")
        return finished

    async def _delete_role(self, account: str, role_name: str) -> None:
        """Delete the service-linked role with its attachments; a role already gone is deleted."""
        async with self._store.writing() as session:
            try:
                role = await get_role(session, account, role_name)
            except RoleNotFound:
                return
            if not is_service_linked(role.path):
                return
            for arn in await session.list_attached_policy_arns(role.role_id):
                await session.detach_policy(role.role_id, arn)
            for policy in await session.list_inline_policies(role.role_id):
                await session.delete_inline_policy(role.role_id, policy.name)
            await session.delete_role(role.role_id)


def parse_task_id(task_id: str) -> tuple[str, str] | None:
    """(service name, role name) of `task/aws-service-role/<service>/<role>/<uuid>`; None for other text."""
    match = _TASK_ID.fullmatch(task_id)
    return None if match is None else (match.group(1), match.group(2))
