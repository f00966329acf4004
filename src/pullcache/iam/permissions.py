"""What grants a user, group or role its permissions: inline policies, attached managed policies, and (users and
roles) a permissions boundary.

An entity has at most ten attached managed policies; its inline policies together stay within IAM's size quota
(see documents.py). Attaching what is attached, or detaching a boundary that is not set, changes nothing.

A service-linked role's policies are its service's: every change to them raises UnmodifiableEntity. The policies
of service-linked roles (AWS managed, under /aws-service-role/) attach to nothing else.
"""

from __future__ import annotations

from dataclasses import replace

from pullcache.iam.arns import ROOT_PATH, parse_policy_arn
from pullcache.iam.aws_managed import is_service_role_policy
from pullcache.iam.documents import check_inline_policy
from pullcache.iam.errors import (
    EntityKind,
    InlinePolicyNotFound,
    LimitExceeded,
    PolicyNotAttachable,
    PolicyNotFound,
    ServiceRolePolicyNotAttachable,
)
from pullcache.iam.lookups import get_entity, get_managed_policy, get_role, get_user
from pullcache.iam.model import AttachedPolicy, Clock, EntityRef, InlinePolicy, utc_now
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamSession, IamStore
from pullcache.iam.roles import check_modifiable

MAX_ATTACHED_POLICIES = 10
_ATTACHED_QUOTA = {
    EntityKind.USER: "PoliciesPerUser",
    EntityKind.GROUP: "PoliciesPerGroup",
    EntityKind.ROLE: "PoliciesPerRole",
}


class PermissionService:
    def __init__(self, store: IamStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    # -- attached managed policies ----------------------------------------------------------------------------

    async def attach_policy(self, account: str, kind: EntityKind, entity_name: str, arn: str) -> None:
        """Raises UserNotFound/GroupNotFound/RoleNotFound, UnmodifiableEntity, IamValidationError,
        PolicyNotAttachable, ServiceRolePolicyNotAttachable or LimitExceeded."""
        async with self._store.writing() as session:
            entity = await _modifiable_entity(session, kind, account, entity_name)
            policy = await get_managed_policy(session, account, arn, PolicyNotAttachable)
            if is_service_role_policy(policy):
                raise ServiceRolePolicyNotAttachable(kind)
            attached = await session.list_attached_policy_arns(entity.entity_id)
            if arn in attached:
                return
            if len(attached) >= MAX_ATTACHED_POLICIES:
                raise LimitExceeded.quota(_ATTACHED_QUOTA[kind], MAX_ATTACHED_POLICIES)
            await session.attach_policy(entity, arn, self._clock())

    async def detach_policy(self, account: str, kind: EntityKind, entity_name: str, arn: str) -> None:
        """Raises UserNotFound/GroupNotFound/RoleNotFound, UnmodifiableEntity, IamValidationError, or
        PolicyNotFound when the policy is not attached."""
        parse_policy_arn(arn)  # refuses text that is no ARN
        async with self._store.writing() as session:
            entity = await _modifiable_entity(session, kind, account, entity_name)
            if not await session.detach_policy(entity.entity_id, arn):
                raise PolicyNotFound(arn)

    async def list_attached_policies(
        self,
        account: str,
        kind: EntityKind,
        entity_name: str,
        path_prefix: str = ROOT_PATH,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[AttachedPolicy]:
        async with self._store.reading() as session:
            entity = await get_entity(session, kind, account, entity_name)
            arns = await session.list_attached_policy_arns(entity.entity_id)
        policies = []
        for arn in arns:
            parsed = parse_policy_arn(arn)
            if parsed is not None and parsed.path.startswith(path_prefix):
                policies.append(AttachedPolicy(parsed.name, arn))
        return paginate(policies, lambda policy: f"{policy.name.lower()} {policy.arn}", marker, max_items)

    # -- inline policies --------------------------------------------------------------------------------------

    async def put_inline_policy(
        self, account: str, kind: EntityKind, entity_name: str, policy_name: str, document: str
    ) -> None:
        """Create or replace. Raises UserNotFound/GroupNotFound/RoleNotFound, UnmodifiableEntity,
        MalformedPolicyDocument or LimitExceeded."""
        async with self._store.writing() as session:
            entity = await _modifiable_entity(session, kind, account, entity_name)
            others = [p.document for p in await session.list_inline_policies(entity.entity_id) if p.name != policy_name]
            check_inline_policy(document, kind, entity.name, others)
            await session.put_inline_policy(entity, InlinePolicy(policy_name, document))

    async def get_inline_policy(
        self, account: str, kind: EntityKind, entity_name: str, policy_name: str
    ) -> tuple[EntityRef, InlinePolicy]:
        """Raises UserNotFound/GroupNotFound/RoleNotFound or InlinePolicyNotFound."""
        async with self._store.reading() as session:
            entity = await get_entity(session, kind, account, entity_name)
            policies = await session.list_inline_policies(entity.entity_id)
        found = next((policy for policy in policies if policy.name == policy_name), None)
        if found is None:
            raise InlinePolicyNotFound(kind, policy_name)
        return entity, found

    async def delete_inline_policy(self, account: str, kind: EntityKind, entity_name: str, policy_name: str) -> None:
        """Raises UserNotFound/GroupNotFound/RoleNotFound, UnmodifiableEntity or InlinePolicyNotFound."""
        async with self._store.writing() as session:
            entity = await _modifiable_entity(session, kind, account, entity_name)
            if not await session.delete_inline_policy(entity.entity_id, policy_name):
                raise InlinePolicyNotFound(kind, policy_name)

    async def list_inline_policies(
        self, account: str, kind: EntityKind, entity_name: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[str]:
        """The policy names. Raises UserNotFound/GroupNotFound/RoleNotFound."""
        async with self._store.reading() as session:
            entity = await get_entity(session, kind, account, entity_name)
            names = [policy.name for policy in await session.list_inline_policies(entity.entity_id)]
        return paginate(names, lambda name: name, marker, max_items)

    # -- permissions boundaries -------------------------------------------------------------------------------

    async def put_permissions_boundary(self, account: str, kind: EntityKind, entity_name: str, arn: str) -> None:
        """`kind` is USER or ROLE. Raises UserNotFound/RoleNotFound, UnmodifiableEntity, IamValidationError or
        PolicyNotAttachable."""
        await self._set_boundary(account, kind, entity_name, arn)

    async def delete_permissions_boundary(self, account: str, kind: EntityKind, entity_name: str) -> None:
        """Raises UserNotFound/RoleNotFound or UnmodifiableEntity."""
        await self._set_boundary(account, kind, entity_name, None)

    async def _set_boundary(self, account: str, kind: EntityKind, entity_name: str, arn: str | None) -> None:
        async with self._store.writing() as session:
            if kind is EntityKind.USER:
                user = await get_user(session, account, entity_name)
                if arn is not None:
                    await get_managed_policy(session, account, arn, PolicyNotAttachable)
                await session.update_user(replace(user, permissions_boundary_arn=arn))
            else:
                role = await get_role(session, account, entity_name)
                check_modifiable(role.path, role.name)
                if arn is not None:
                    await get_managed_policy(session, account, arn, PolicyNotAttachable)
                await session.update_role(replace(role, permissions_boundary_arn=arn))


async def _modifiable_entity(session: IamSession, kind: EntityKind, account: str, name: str) -> EntityRef:
    """The entity whose policies a caller changes; raises its NotFound, or UnmodifiableEntity for a
    service-linked role."""
    entity = await get_entity(session, kind, account, name)
    if kind is EntityKind.ROLE:
        check_modifiable(entity.path, entity.name)
    return entity
