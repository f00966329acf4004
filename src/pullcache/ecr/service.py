"""ECR's use cases of repositories: their settings, policies and resource tags, the registry policy, and
authorization tokens. Images and layers are images.py and layers.py; all of it is the registry's own data.

Repository names are checked against ECR's model before they get here; a repository is created only with a name
that core.names admits (the rule of every door: the model's limits, and what /v2/ can push and pull).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pullcache.auth.registry_tokens import IssuedToken, RegistryTokens
from pullcache.core.names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, is_valid_repository_name
from pullcache.core.scopes import RegistryScope, parse_repository_arn
from pullcache.ecr.errors import (
    InvalidParameter,
    InvalidTagParameter,
    RegistryPolicyNotFound,
    RepositoryAlreadyExists,
    RepositoryNotFound,
    RepositoryPolicyNotFound,
    TooManyTags,
)
from pullcache.ecr.pagination import DEFAULT_PAGE, next_token, read_token
from pullcache.ecr.ports import EcrMetadataStore, RepositoryRecord, RepositorySettings
from pullcache.policy import RequestPrincipal
from pullcache.registry.tag_mutability import TagMutabilityRule

MAX_RESOURCE_TAGS = 50


class EcrService:
    def __init__(self, store: EcrMetadataStore, tokens: RegistryTokens) -> None:
        self._store = store
        self._tokens = tokens

    # -- repositories --------------------------------------------------------------------------------------

    async def create_repository(
        self,
        scope: RegistryScope,
        name: str,
        settings: RepositorySettings,
        tags: Sequence[tuple[str, str]],
    ) -> RepositoryRecord:
        """Raises RepositoryAlreadyExists, InvalidParameter, InvalidTagParameter, TooManyTags."""
        _check_name(name)
        _check_mutability(settings.tag_mutability)
        _check_tags(tags, 0)
        created = await self._store.create_repository(scope, name, settings, tags, _now())
        if created is None:
            raise RepositoryAlreadyExists(scope, name)
        return created

    async def get_repository(self, scope: RegistryScope, name: str) -> RepositoryRecord:
        found = await self._store.find_repository(scope, name)
        if found is None:
            raise RepositoryNotFound(scope, name)
        return found

    async def describe_repositories(
        self, scope: RegistryScope, names: Sequence[str] | None, token: str | None, limit: int | None
    ) -> tuple[list[RepositoryRecord], str | None]:
        """The named repositories (every one must exist), or a page of all of them."""
        if names:
            if token is not None or limit is not None:
                raise InvalidParameter(
                    "Invalid parameter: nextToken and maxResults cannot be used with repositoryNames"
                )
            return [await self.get_repository(scope, name) for name in dict.fromkeys(names)], None
        page = limit or DEFAULT_PAGE
        after = read_token(token, 1)[0] if token is not None else None
        found = list(await self._store.list_repositories(scope, after, page + 1))
        if len(found) <= page:
            return found, None
        return found[:page], next_token(found[page - 1].name)

    async def delete_repository(self, scope: RegistryScope, name: str, force: bool) -> RepositoryRecord:
        """Raises RepositoryNotFound, RepositoryNotEmpty."""
        return await self._store.delete_repository(scope, name, force=force)

    async def put_tag_mutability(self, scope: RegistryScope, name: str, rule: TagMutabilityRule) -> None:
        _check_mutability(rule)
        if not await self._store.set_tag_mutability(scope, name, rule):
            raise RepositoryNotFound(scope, name)

    # -- policies (validated by the caller, who knows the policy grammar) -----------------------------------

    async def set_repository_policy(self, scope: RegistryScope, name: str, text: str) -> None:
        if not await self._store.set_repository_policy(scope, name, text):
            raise RepositoryNotFound(scope, name)

    async def get_repository_policy(self, scope: RegistryScope, name: str) -> str:
        await self.get_repository(scope, name)
        text = await self._store.find_repository_policy(scope, name)
        if text is None:
            raise RepositoryPolicyNotFound(scope, name)
        return text

    async def find_repository_policy(self, scope: RegistryScope, name: str) -> str | None:
        return await self._store.find_repository_policy(scope, name)

    async def delete_repository_policy(self, scope: RegistryScope, name: str) -> str:
        text = await self.get_repository_policy(scope, name)
        await self._store.set_repository_policy(scope, name, None)
        return text

    async def put_registry_policy(self, scope: RegistryScope, text: str) -> None:
        await self._store.set_registry_policy(scope, text, _now())

    async def get_registry_policy(self, scope: RegistryScope) -> str:
        text = await self._store.find_registry_policy(scope)
        if text is None:
            raise RegistryPolicyNotFound(scope)
        return text

    async def delete_registry_policy(self, scope: RegistryScope) -> str:
        text = await self.get_registry_policy(scope)
        await self._store.set_registry_policy(scope, None, _now())
        return text

    # -- resource tags -------------------------------------------------------------------------------------

    async def list_tags_for_resource(self, arn: str) -> Sequence[tuple[str, str]]:
        scope, name = repository_of_arn(arn)
        tags = await self._store.list_repository_tags(scope, name)
        if tags is None:
            raise RepositoryNotFound(scope, name)
        return tags

    async def tag_resource(self, arn: str, tags: Sequence[tuple[str, str]]) -> None:
        scope, name = repository_of_arn(arn)
        existing = await self._store.list_repository_tags(scope, name)
        if existing is None:
            raise RepositoryNotFound(scope, name)
        new_keys = {key for key, _ in tags} - {key for key, _ in existing}
        _check_tags(tags, len(existing) + len(new_keys) - len({key for key, _ in tags}))
        await self._store.tag_repository(scope, name, tags)

    async def untag_resource(self, arn: str, keys: Sequence[str]) -> None:
        scope, name = repository_of_arn(arn)
        if not await self._store.untag_repository(scope, name, keys):
            raise RepositoryNotFound(scope, name)

    # -- authorization tokens ------------------------------------------------------------------------------

    def authorization_token(
        self, principal: RequestPrincipal, access_key_id: str, credentials_expire_at: datetime | None
    ) -> IssuedToken:
        """A registry token for `principal`, who signed with `access_key_id`: it lasts no longer than that key
        (auth/registry_tokens.py)."""
        return self._tokens.issue(
            principal, _now(), access_key_id=access_key_id, credentials_expire_at=credentials_expire_at
        )


def repository_of_arn(arn: str) -> tuple[RegistryScope, str]:
    """The repository an ARN names; raises InvalidParameter with ECR's text when it names none."""
    found = parse_repository_arn(arn)
    if found is None:
        raise InvalidParameter("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'")
    return found


def _check_name(name: str) -> None:
    """The model refuses a bad name at ECR's door in ECR's words; this holds for every other way in too."""
    if not is_valid_repository_name(name):
        raise InvalidParameter(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must be a repository name of "
            f"{MIN_NAME_LENGTH} to {MAX_NAME_LENGTH} characters, lowercase components separated by slashes'"
        )


def _check_mutability(rule: TagMutabilityRule) -> None:
    if rule.mutability.takes_exclusions and not rule.exclusion_filters:
        raise InvalidParameter(
            f"Invalid parameter: imageTagMutabilityExclusionFilters are required with {rule.mutability.value}"
        )
    if not rule.mutability.takes_exclusions and rule.exclusion_filters:
        raise InvalidParameter(
            f"Invalid parameter: imageTagMutabilityExclusionFilters cannot be used with {rule.mutability.value}"
        )


def _check_tags(tags: Sequence[tuple[str, str]], existing: int) -> None:
    for key, value in tags:
        if not key or len(key) > 128 or len(value) > 256:
            raise InvalidTagParameter(f"Invalid tag: key '{key}' must have 1 to 128 characters, its value 0 to 256")
        if key.lower().startswith("aws:"):
            raise InvalidTagParameter("Tag keys with the 'aws:' prefix are reserved for AWS use")
    if existing + len({key for key, _ in tags}) > MAX_RESOURCE_TAGS:
        raise TooManyTags(f"A resource can have at most {MAX_RESOURCE_TAGS} tags")


def _now() -> datetime:
    return datetime.now(UTC)
