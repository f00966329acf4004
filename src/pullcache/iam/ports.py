"""What IAM needs from storage, and what it offers the rest of pullcache.

IamStore        the IAM service's storage: a session per unit of work. A writing session is one transaction
                that holds the write lock from its start, so a rule checked in it (a name is free, a user has
                fewer than two keys) still holds when the session writes.
IamPrincipals   the read API of authorization and STS: every policy that applies to a user or a role, the
                role's trust policy and session limit, where a role was last used, and managed policies by
                ARN (a role session's managed session policies).
SessionPolicySource   the session policies a role session was given (STS keeps them)
ServiceRoleUsage      what still uses a service-linked role (its service knows: for ECR, pull through cache rules)
RoleDeletionTasks     DeleteServiceLinkedRole's tasks
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pullcache.iam.model import (
    AccessKey,
    Account,
    DeletionTask,
    EntityRef,
    Group,
    InlinePolicy,
    ManagedPolicy,
    PolicyVersion,
    Role,
    RoleUsage,
    Tag,
    User,
)
from pullcache.policy import PolicyKind, PolicySourceType, SourcedPolicy, parse_policy


class IamSession(Protocol):
    """Reads and writes of one unit of work. `account` arguments scope a lookup to that account's entities.

    `find_*` return None when missing; writes assume the service checked what they rely on.
    """

    async def find_account(self, account: str) -> Account | None: ...

    # -- users ------------------------------------------------------------------------------------------------
    async def find_user(self, account: str, name: str) -> User | None:
        """The user whose name equals `name` ignoring case."""
        ...

    async def find_user_by_id(self, user_id: str) -> User | None: ...

    async def list_users(self, account: str) -> Sequence[User]: ...

    async def add_user(self, user: User) -> None: ...

    async def update_user(self, user: User) -> None:
        """Store the name, path, ARN and permissions boundary of the user with `user.user_id`."""
        ...

    async def delete_user(self, user_id: str) -> None:
        """Delete the user with its tags and group memberships."""
        ...

    # -- groups -----------------------------------------------------------------------------------------------
    async def find_group(self, account: str, name: str) -> Group | None: ...

    async def list_groups(self, account: str) -> Sequence[Group]: ...

    async def add_group(self, group: Group) -> None: ...

    async def delete_group(self, group_id: str) -> None: ...

    async def list_group_members(self, group_id: str) -> Sequence[User]: ...

    async def list_groups_of_user(self, user_id: str) -> Sequence[Group]: ...

    async def add_group_member(self, group_id: str, user_id: str) -> None:
        """Idempotent."""
        ...

    async def remove_group_member(self, group_id: str, user_id: str) -> None: ...

    # -- roles ------------------------------------------------------------------------------------------------
    async def find_role(self, account: str, name: str) -> Role | None: ...

    async def list_roles(self, account: str) -> Sequence[Role]: ...

    async def add_role(self, role: Role) -> None: ...

    async def update_role(self, role: Role) -> None:
        """Store the trust policy, description, session limit and permissions boundary of `role.role_id`."""
        ...

    async def delete_role(self, role_id: str) -> None: ...

    # -- customer managed policies ----------------------------------------------------------------------------
    async def find_policy(self, account: str, name: str) -> ManagedPolicy | None:
        """The account's managed policy named `name` (ignoring case), with its counts."""
        ...

    async def list_policies(self, account: str) -> Sequence[ManagedPolicy]: ...

    async def add_policy(self, policy: ManagedPolicy, version: PolicyVersion) -> None: ...

    async def update_policy(self, policy: ManagedPolicy, last_version_number: int) -> None:
        """Store the default version, update time and version counter of `policy.policy_id`."""
        ...

    async def last_version_number(self, policy_id: str) -> int: ...

    async def delete_policy(self, policy_id: str) -> None:
        """Delete the policy with its versions and tags."""
        ...

    async def list_policy_versions(self, policy_id: str) -> Sequence[PolicyVersion]:
        """Newest first; `is_default` set from the policy."""
        ...

    async def add_policy_version(self, policy_id: str, version: PolicyVersion) -> None: ...

    async def delete_policy_version(self, policy_id: str, version_id: str) -> None: ...

    async def count_policy_uses(self, account: str, arn: str) -> tuple[int, int]:
        """(attachments, permissions-boundary uses) of the policy `arn` in `account`."""
        ...

    # -- inline policies, attachments, tags -------------------------------------------------------------------
    async def list_inline_policies(self, entity_id: str) -> Sequence[InlinePolicy]:
        """By name."""
        ...

    async def put_inline_policy(self, entity: EntityRef, policy: InlinePolicy) -> None:
        """Create or replace."""
        ...

    async def delete_inline_policy(self, entity_id: str, name: str) -> bool: ...

    async def list_attached_policy_arns(self, entity_id: str) -> Sequence[str]:
        """In the order they were attached."""
        ...

    async def attach_policy(self, entity: EntityRef, arn: str, at: datetime) -> None:
        """Idempotent."""
        ...

    async def detach_policy(self, entity_id: str, arn: str) -> bool: ...

    async def list_policy_entities(self, account: str, arn: str) -> Sequence[tuple[EntityRef, bool]]:
        """The users, groups and roles of `account` that use the policy `arn`: (entity, True) where attached,
        (entity, False) where it is the permissions boundary."""
        ...

    async def list_used_aws_policy_arns(self, account: str) -> Sequence[str]:
        """The AWS managed policies (by ARN) that `account` attaches or uses as a permissions boundary."""
        ...

    async def list_tags(self, entity_id: str) -> Sequence[Tag]:
        """By key."""
        ...

    async def set_tags(self, account: str, entity_id: str, tags: Sequence[Tag]) -> None:
        """Replace every tag of the entity."""
        ...

    # -- access keys ------------------------------------------------------------------------------------------
    async def find_access_key(self, account: str, access_key_id: str) -> AccessKey | None: ...

    async def list_access_keys(self, account: str, user_id: str | None) -> Sequence[AccessKey]:
        """The keys of the user `user_id`, or of the account's root user when None; oldest first."""
        ...

    async def add_access_key(self, key: AccessKey) -> None: ...

    async def update_access_key_status(self, access_key_id: str, status: str) -> None: ...

    async def delete_access_key(self, access_key_id: str) -> None: ...


class IamStore(Protocol):
    def reading(self) -> AbstractAsyncContextManager[IamSession]:
        """A session that only reads."""
        ...

    def writing(self) -> AbstractAsyncContextManager[IamSession]:
        """A session in one transaction, committed when the block ends without an exception."""
        ...


# -- the read API of authorization and STS --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """An identity-based policy as stored: an inline policy (`source_id` its name) or a managed one (its ARN)."""

    source_id: str
    source_type: PolicySourceType
    document: str

    def sourced(self) -> SourcedPolicy:
        """The document parsed for evaluation. Stored documents passed IAM's grammar when they were written."""
        return SourcedPolicy(parse_policy(self.document, PolicyKind.IDENTITY), self.source_id, self.source_type)


@dataclass(frozen=True, slots=True)
class GroupPermissions:
    group_name: str
    group_arn: str
    inline: Sequence[StoredPolicy]
    attached: Sequence[StoredPolicy]  # the default version of each attached managed policy


@dataclass(frozen=True, slots=True)
class UserPermissions:
    user_id: str
    account: str
    user_name: str
    arn: str
    inline: Sequence[StoredPolicy]
    attached: Sequence[StoredPolicy]
    groups: Sequence[GroupPermissions]
    permissions_boundary: StoredPolicy | None

    def identity_policies(self) -> list[StoredPolicy]:
        """The user's own policies, then each group's: every identity-based policy that applies to the user."""
        found = [*self.inline, *self.attached]
        for group in self.groups:
            found += [*group.inline, *group.attached]
        return found


@dataclass(frozen=True, slots=True)
class RolePermissions:
    role_id: str
    account: str
    role_name: str
    arn: str
    trust_policy: str
    max_session_duration: int  # seconds
    inline: Sequence[StoredPolicy]
    attached: Sequence[StoredPolicy]
    permissions_boundary: StoredPolicy | None

    def identity_policies(self) -> list[StoredPolicy]:
        return [*self.inline, *self.attached]


class IamPrincipals(Protocol):
    async def find_user_permissions(self, user_id: str) -> UserPermissions | None:
        """The policies of the user with unique id `user_id` (AIDA...); None when no such user exists."""
        ...

    async def find_role_permissions(self, role_arn: str) -> RolePermissions | None:
        """The role whose ARN is `role_arn` (path included, as IAM writes it); None when no such role exists."""
        ...

    async def record_role_use(self, role_arn: str, at: datetime, region: str) -> None:
        """Note that the role was used (assumed) at `at` in `region`: GetRole's RoleLastUsed."""
        ...

    async def find_managed_policy(self, arn: str) -> StoredPolicy | None:
        """The default version of the managed policy `arn` (AWS managed or an account's); None when none exists."""
        ...


class RoleUseStore(IamStore, Protocol):
    """The IAM store, with where roles were last used (IamPrincipals' record_role_use)."""

    async def record_role_use(self, role_arn: str, at: datetime, region: str) -> None: ...


# -- what others keep for IAM ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPolicyRefs:
    """The session policies a role session was given, as they were requested."""

    policy: str | None = None  # the inline session policy
    policy_arns: tuple[str, ...] = ()  # the managed session policies

    @property
    def given(self) -> bool:
        return self.policy is not None or bool(self.policy_arns)


class SessionPolicySource(Protocol):
    async def find_session_policies(self, session_id: str) -> SessionPolicyRefs | None:
        """The session policies of the role session `session_id`; None when there is no such session."""
        ...


class ServiceRoleUsage(Protocol):
    async def find_role_usage(self, account_id: str) -> RoleUsage:
        """What in `account_id` still uses the service-linked role, and whether the service is busy with it."""
        ...


class DeletionTaskObserver(Protocol):
    def deletion_finished(self, task: DeletionTask) -> None:
        """A service-linked role's deletion task ran to its end (SUCCEEDED or FAILED, its reason said); quick, and
        never raises (the audit trail records it)."""
        ...


class RoleDeletionTasks(Protocol):
    """DeleteServiceLinkedRole's tasks. Every method is one transaction."""

    async def add_or_find_pending(self, task: DeletionTask) -> DeletionTask:
        """The pending task of `task.account` for the role `task.role_name` (ignoring case); when there is
        none, `task`, stored."""
        ...

    async def find_task(self, account: str, task_id: str) -> DeletionTask | None: ...

    async def claim_task(self, task: DeletionTask, at: datetime) -> bool:
        """Mark `task` IN_PROGRESS as of `at`, if it is still as read (same status and update time)."""
        ...

    async def finish_task(self, task: DeletionTask) -> None:
        """Store the status, reason, usage and update time of `task.task_id`."""
        ...
