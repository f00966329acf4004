"""Managed policies: the account's own (customer managed, with up to five versions) and AWS's (read-only).

A customer managed policy starts at version v1; version ids count up and are never reused. Its UpdateDate is the
creation time of its newest version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pullcache.iam.arns import ROOT_PATH, IdPrefix, new_unique_id, policy_arn
from pullcache.iam.aws_managed import AWS_MANAGED_POLICIES, find_aws_managed_policy
from pullcache.iam.documents import check_managed_policy
from pullcache.iam.errors import (
    DEFAULT_VERSION,
    POLICY_ATTACHED,
    POLICY_HAS_VERSIONS,
    POLICY_VERSIONS_LIMIT,
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    PolicyVersionNotFound,
)
from pullcache.iam.lookups import get_managed_policy, get_own_policy
from pullcache.iam.model import (
    Clock,
    EntityRef,
    ManagedPolicy,
    PolicyScope,
    PolicyUsage,
    PolicyVersion,
    Tag,
    name_key,
    utc_now,
)
from pullcache.iam.pagination import Page, paginate
from pullcache.iam.ports import IamSession, IamStore
from pullcache.iam.tags import check_new_tags, merged_tags, without_tags

MAX_POLICY_VERSIONS = 5
FIRST_VERSION = "v1"
_ENTITY_ORDER = {"user": 0, "group": 1, "role": 2}


class ManagedPolicyService:
    def __init__(self, store: IamStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        path: str = ROOT_PATH,
        description: str | None = None,
        tags: Sequence[Tag] = (),
    ) -> ManagedPolicy:
        """Raises MalformedPolicyDocument, LimitExceeded, InvalidInput or EntityAlreadyExists."""
        check_managed_policy(document)
        check_new_tags(tags)
        now = self._clock()
        async with self._store.writing() as session:
            if await session.find_policy(account, name) is not None:
                raise EntityAlreadyExists.policy(name)
            policy = ManagedPolicy(
                policy_id=new_unique_id(IdPrefix.POLICY),
                account=account,
                name=name,
                path=path,
                arn=policy_arn(account, path, name),
                default_version_id=FIRST_VERSION,
                created_at=now,
                updated_at=now,
                description=description,
                tags=tuple(sorted(tags, key=lambda tag: tag.key)),
            )
            await session.add_policy(policy, PolicyVersion(FIRST_VERSION, document, now, is_default=True))
            if tags:
                await session.set_tags(account, policy.policy_id, policy.tags)
        return policy

    async def get_policy(self, account: str, arn: str) -> ManagedPolicy:
        """The policy with its counts and tags. Raises PolicyNotFound or IamValidationError."""
        async with self._store.reading() as session:
            policy = await get_managed_policy(session, account, arn)
            if policy.account is None:
                return policy
            return replace(policy, tags=tuple(await session.list_tags(policy.policy_id)))

    async def list_policies(
        self,
        account: str,
        scope: PolicyScope = PolicyScope.ALL,
        only_attached: bool = False,
        path_prefix: str = ROOT_PATH,
        usage: PolicyUsage | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[ManagedPolicy]:
        """AWS managed and local policies by name. `usage` narrows `only_attached` to one kind of use."""
        async with self._store.reading() as session:
            policies: list[ManagedPolicy] = []
            if scope is not PolicyScope.LOCAL:
                policies += [await _with_counts(session, account, entry.policy) for entry in AWS_MANAGED_POLICIES]
            if scope is not PolicyScope.AWS:
                policies += await session.list_policies(account)
        chosen = [p for p in policies if p.path.startswith(path_prefix) and (not only_attached or _used(p, usage))]
        return paginate(chosen, lambda policy: f"{name_key(policy.name)} {policy.arn}", marker, max_items)

    async def delete_policy(self, account: str, arn: str) -> None:
        """Raises PolicyNotFound, or DeleteConflict while attached or with versions besides the default."""
        async with self._store.writing() as session:
            policy = await get_own_policy(session, account, arn)
            if policy.attached:
                raise DeleteConflict(POLICY_ATTACHED)
            if len(await session.list_policy_versions(policy.policy_id)) > 1:
                raise DeleteConflict(POLICY_HAS_VERSIONS)
            await session.delete_policy(policy.policy_id)

    async def create_policy_version(
        self, account: str, arn: str, document: str, set_as_default: bool = False
    ) -> PolicyVersion:
        """Raises MalformedPolicyDocument, PolicyNotFound or LimitExceeded (five versions already)."""
        check_managed_policy(document)
        now = self._clock()
        async with self._store.writing() as session:
            policy = await get_own_policy(session, account, arn)
            if len(await session.list_policy_versions(policy.policy_id)) >= MAX_POLICY_VERSIONS:
                raise LimitExceeded(POLICY_VERSIONS_LIMIT)
            number = await session.last_version_number(policy.policy_id) + 1
            version = PolicyVersion(f"v{number}", document, now, is_default=set_as_default)
            await session.add_policy_version(policy.policy_id, version)
            default = version.version_id if set_as_default else policy.default_version_id
            await session.update_policy(replace(policy, default_version_id=default, updated_at=now), number)
        return version

    async def get_policy_version(self, account: str, arn: str, version_id: str) -> PolicyVersion:
        """Raises PolicyNotFound or PolicyVersionNotFound. AWS managed policies show their default version."""
        async with self._store.reading() as session:
            versions = await _versions(session, account, arn)
        found = next((version for version in versions if version.version_id == version_id), None)
        if found is None:
            raise PolicyVersionNotFound(arn, version_id)
        return found

    async def list_policy_versions(
        self, account: str, arn: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[PolicyVersion]:
        """Newest first. Raises PolicyNotFound."""
        async with self._store.reading() as session:
            versions = await _versions(session, account, arn)
        return paginate(versions, lambda version: f"{10**9 - _number(version.version_id):010d}", marker, max_items)

    async def delete_policy_version(self, account: str, arn: str, version_id: str) -> None:
        """Raises PolicyNotFound, PolicyVersionNotFound, or DeleteConflict for the default version."""
        async with self._store.writing() as session:
            policy = await get_own_policy(session, account, arn)
            versions = await session.list_policy_versions(policy.policy_id)
            if all(version.version_id != version_id for version in versions):
                raise PolicyVersionNotFound(arn, version_id)
            if version_id == policy.default_version_id:
                raise DeleteConflict(DEFAULT_VERSION)
            await session.delete_policy_version(policy.policy_id, version_id)
            newest = max(version.created_at for version in versions if version.version_id != version_id)
            number = await session.last_version_number(policy.policy_id)
            await session.update_policy(replace(policy, updated_at=newest), number)

    async def set_default_policy_version(self, account: str, arn: str, version_id: str) -> None:
        """Raises PolicyNotFound or PolicyVersionNotFound."""
        async with self._store.writing() as session:
            policy = await get_own_policy(session, account, arn)
            versions = await session.list_policy_versions(policy.policy_id)
            if all(version.version_id != version_id for version in versions):
                raise PolicyVersionNotFound(arn, version_id)
            number = await session.last_version_number(policy.policy_id)
            await session.update_policy(replace(policy, default_version_id=version_id), number)

    async def tag_policy(self, account: str, arn: str, tags: Sequence[Tag]) -> None:
        """Raises PolicyNotFound, InvalidInput or LimitExceeded."""
        async with self._store.writing() as session:
            policy = await get_own_policy(session, account, arn)
            existing = await session.list_tags(policy.policy_id)
            await session.set_tags(account, policy.policy_id, merged_tags(existing, tags))

    async def untag_policy(self, account: str, arn: str, keys: Sequence[str]) -> None:
        async with self._store.writing() as session:
            policy = await get_own_policy(session, account, arn)
            existing = await session.list_tags(policy.policy_id)
            await session.set_tags(account, policy.policy_id, without_tags(existing, keys))

    async def list_policy_tags(
        self, account: str, arn: str, marker: str | None = None, max_items: int | None = None
    ) -> Page[Tag]:
        async with self._store.reading() as session:
            policy = await get_own_policy(session, account, arn)
            tags = await session.list_tags(policy.policy_id)
        return paginate(tags, lambda tag: tag.key, marker, max_items)

    async def list_entities_for_policy(
        self,
        account: str,
        arn: str,
        entity_filter: str | None = None,
        path_prefix: str = ROOT_PATH,
        usage: PolicyUsage | None = None,
        marker: str | None = None,
        max_items: int | None = None,
    ) -> Page[EntityRef]:
        """The users, groups and roles that use the policy, each once. `entity_filter` is `User`, `Group` or
        `Role` (the policy filters of the same parameter leave every entity). Raises PolicyNotFound."""
        async with self._store.reading() as session:
            await get_managed_policy(session, account, arn)
            uses = await session.list_policy_entities(account, arn)
        wanted = None if usage is None else usage is PolicyUsage.PERMISSIONS_POLICY  # attached, or a boundary
        kind = entity_filter.lower() if entity_filter in ("User", "Group", "Role") else None
        entities = {
            entity.entity_id: entity
            for entity, attached in uses
            if (wanted is None or attached is wanted)
            and (kind is None or entity.kind == kind)
            and entity.path.startswith(path_prefix)
        }
        return paginate(
            list(entities.values()),
            lambda entity: f"{_ENTITY_ORDER[entity.kind]} {name_key(entity.name)}",
            marker,
            max_items,
        )


async def _with_counts(session: IamSession, account: str, policy: ManagedPolicy) -> ManagedPolicy:
    attachments, boundaries = await session.count_policy_uses(account, policy.arn)
    return replace(policy, attachment_count=attachments, permissions_boundary_usage_count=boundaries)


def _used(policy: ManagedPolicy, usage: PolicyUsage | None) -> bool:
    if usage is PolicyUsage.PERMISSIONS_POLICY:
        return policy.attachment_count > 0
    if usage is PolicyUsage.PERMISSIONS_BOUNDARY:
        return policy.permissions_boundary_usage_count > 0
    return policy.attached


async def _versions(session: IamSession, account: str, arn: str) -> Sequence[PolicyVersion]:
    policy = await get_managed_policy(session, account, arn)
    if policy.account is None:
        entry = find_aws_managed_policy(arn)
        return [] if entry is None else [entry.version]
    return await session.list_policy_versions(policy.policy_id)


def _number(version_id: str) -> int:
    return int(version_id.removeprefix("v").split(".", 1)[0])
