"""IAM roles: their trust policies, descriptions, session limits and tags.

Roles under SERVICE_LINKED_PATH are service-linked: only CreateServiceLinkedRole makes them (CreateRole refuses
the path), and only their service changes them. Of what an account may do to one, only its description and its
tags change: every other change raises UnmodifiableEntity, and its name and path never change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pullcache.iam.arns import ROOT_PATH, IdPrefix, new_unique_id, role_arn
from pullcache.iam.documents import check_trust_policy
from pullcache.iam.errors import (
    MUST_DELETE_POLICIES,
    MUST_DETACH_POLICIES,
    SERVICE_ROLE_PATH_RESERVED,
    DeleteConflict,
    EntityAlreadyExists,
    EntityKind,
    InvalidInput,
    PolicyNotAttachable,
    UnmodifiableEntity,
)
from pullcache.iam.lookups import get_managed_policy, get_role
from pullcache.iam.model import DEFAULT_MAX_SESSION_DURATION, Clock, Role, Tag, name_key, utc_now
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamStore
from pullcache.iam.tags import check_new_tags, merged_tags, without_tags

SERVICE_LINKED_PATH = "/aws-service-role/"


def is_service_linked(path: str) -> bool:
    """Whether a role at `path` is service-linked."""
    return path.startswith(SERVICE_LINKED_PATH)


def check_modifiable(path: str, name: str) -> None:
    """Raises UnmodifiableEntity for the service-linked role `name` (at `path`)."""
    if is_service_linked(path):
        raise UnmodifiableEntity(name)


class RoleService:
    def __init__(self, store: IamStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def create_role(
        self,
        account: str,
        name: str,
        assume_role_policy: str,
        path: str = ROOT_PATH,
        description: str | None = None,
        max_session_duration: int | None = None,
        permissions_boundary: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> Role:
        """Raises MalformedPolicyDocument, LimitExceeded, InvalidInput (a service-linked role's path, or duplicate
        tag keys), EntityAlreadyExists, PolicyNotAttachable or IamValidationError."""
        if is_service_linked(path):
            raise InvalidInput(SERVICE_ROLE_PATH_RESERVED)
        check_trust_policy(assume_role_policy)
        check_new_tags(tags)
        async with self._store.writing() as session:
            if await session.find_role(account, name) is not None:
                raise EntityAlreadyExists.named(EntityKind.ROLE, name)
            if permissions_boundary is not None:
                await get_managed_policy(session, account, permissions_boundary, PolicyNotAttachable)
            role = Role(
                role_id=new_unique_id(IdPrefix.ROLE),
                account=account,
                name=name,
                path=path,
                arn=role_arn(account, path, name),
                created_at=self._clock(),
                assume_role_policy=assume_role_policy,
                description=description,
                max_session_duration=max_session_duration or DEFAULT_MAX_SESSION_DURATION,
                permissions_boundary_arn=permissions_boundary,
                tags=tuple(sorted(tags, key=lambda tag: tag.key)),
            )
            await session.add_role(role)
            if tags:
                await session.set_tags(account, role.role_id, role.tags)
        return role

    async def get_role(self, account: str, name: str) -> Role:
        """The role with its tags; raises RoleNotFound."""
        async with self._store.reading() as session:
            role = await get_role(session, account, name)
            return replace(role, tags=tuple(await session.list_tags(role.role_id)))

    async def list_roles(
        self, account: str, path_prefix: str = ROOT_PATH, marker: str | None = None, max_items: int | None = None
    ) -> Page[Role]:
        async with self._store.reading() as session:
            roles = [role for role in await session.list_roles(account) if role.path.startswith(path_prefix)]
        return paginate(roles, lambda role: name_key(role.name), marker, max_items)

    async def update_role(
        self, account: str, name: str, description: str | None = None, max_session_duration: int | None = None
    ) -> Role:
        """Change what is given; returns the role as it is now. Raises RoleNotFound, or UnmodifiableEntity for a
        session limit of a service-linked role (its description may change)."""
        async with self._store.writing() as session:
            role = await get_role(session, account, name)
            if max_session_duration is not None:
                check_modifiable(role.path, role.name)
            if description is not None:
                role = replace(role, description=description)
            if max_session_duration is not None:
                role = replace(role, max_session_duration=max_session_duration)
            await session.update_role(role)
            return replace(role, tags=tuple(await session.list_tags(role.role_id)))

    async def update_assume_role_policy(self, account: str, name: str, document: str) -> None:
        """Raises MalformedPolicyDocument, LimitExceeded, RoleNotFound or UnmodifiableEntity."""
        check_trust_policy(document)
        async with self._store.writing() as session:
            role = await get_role(session, account, name)
            check_modifiable(role.path, role.name)
            await session.update_role(replace(role, assume_role_policy=document))

    async def delete_role(self, account: str, name: str) -> None:
        """Raises RoleNotFound, UnmodifiableEntity (a service-linked role: DeleteServiceLinkedRole deletes those),
        or DeleteConflict while the role has policies."""
        async with self._store.writing() as session:
            role = await get_role(session, account, name)
            check_modifiable(role.path, role.name)
            if await session.list_inline_policies(role.role_id):
                raise DeleteConflict(MUST_DELETE_POLICIES)
            if await session.list_attached_policy_arns(role.role_id):
                raise DeleteConflict(MUST_DETACH_POLICIES)
            await session.delete_role(role.role_id)

    async def tag_role(self, account: str, name: str, tags: Sequence[Tag]) -> None:
        """Raises RoleNotFound, InvalidInput or LimitExceeded."""
        async with self._store.writing() as session:
            role = await get_role(session, account, name)
            await session.set_tags(account, role.role_id, merged_tags(await session.list_tags(role.role_id), tags))

    async def untag_role(self, account: str, name: str, keys: Sequence[str]) -> None:
        async with self._store.writing() as session:
            role = await get_role(session, account, name)
            await session.set_tags(account, role.role_id, without_tags(await session.list_tags(role.role_id), keys))

    async def list_role_tags(
        self, account: str, name: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[Tag]:
        async with self._store.reading() as session:
            role = await get_role(session, account, name)
            tags = await session.list_tags(role.role_id)
        return paginate(tags, lambda tag: tag.key, marker, max_items)
