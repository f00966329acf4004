"""What the pull path needs of the rest of pullcache, over its services: a rule's upstream credentials, and
repositories created on first pull as the repository creation templates for the pull-through cache say."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import RepositoryAlreadyExists
from pullcache.ecr.ports import RepositorySettings
from pullcache.pullthrough.model import AppliedFor
from pullcache.pullthrough.ports import (
    CredentialReader,
    LifecyclePolicies,
    RepositoryMaker,
    TemplateFinder,
    UpstreamCredentials,
)
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.pullthrough.templates import apply_template

log = logging.getLogger(__name__)


class SecretCredentials:
    """RuleCredentials: the username and access token of a rule's Secrets Manager secret, read at each use (a
    rotated secret applies to the next fetch)."""

    def __init__(self, reader: CredentialReader) -> None:
        self._reader = reader

    async def find_credentials(self, rule: PullThroughRule) -> UpstreamCredentials | None:
        if rule.credential_arn is None:
            return None
        try:
            return await self._reader.read_credentials(rule.scope, rule.credential_arn)
        except Exception as error:  # the secret went away or changed shape: the upstream will say no
            log.warning("the credentials of pull through cache rule %s cannot be read: %s", rule.prefix, error)
            return None


class TemplatedRepositories:
    """CachedRepositories: a repository created on first pull gets its template's settings, tags and policies."""

    def __init__(self, templates: TemplateFinder, repositories: RepositoryMaker, lifecycle: LifecyclePolicies) -> None:
        self._templates = templates
        self._repositories = repositories
        self._lifecycle = lifecycle

    async def create_cached_repository(self, scope: RegistryScope, repository: str) -> None:
        template = await self._templates.find_template_for(scope, repository, AppliedFor.PULL_THROUGH_CACHE)
        if template is None:
            await self._create(scope, repository, RepositorySettings(), ())
            return
        applied = apply_template(template)
        if not await self._create(scope, repository, applied.settings, applied.resource_tags):
            return
        if applied.repository_policy is not None:
            await self._repositories.set_repository_policy(scope, repository, applied.repository_policy)
        if applied.lifecycle_policy is not None:
            await self._lifecycle.put_lifecycle_policy(scope, repository, applied.lifecycle_policy)

    async def _create(
        self, scope: RegistryScope, repository: str, settings: RepositorySettings, tags: Sequence[tuple[str, str]]
    ) -> bool:
        """False when it exists already (another request created it first)."""
        try:
            await self._repositories.create_repository(scope, repository, settings, tags)
        except RepositoryAlreadyExists:
            return False
        return True
