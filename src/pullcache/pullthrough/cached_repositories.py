"""What the pull path needs of the rest of pullcache, over its services: a rule's upstream credentials, and
repositories created as the repository creation templates say: on first pull (PULL_THROUGH_CACHE: defaults when no
template applies), on push (CREATE_ON_PUSH: the registry's RepositoryCreator; no template, no repository) and by
replication (REPLICATION: ECR's ReplicaRepositories; defaults when no template applies)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import RepositoryAlreadyExists
from pullcache.ecr.ports import RepositorySettings
from pullcache.pullthrough.model import AppliedFor, Template
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
    """Repositories ECR creates on the caller's behalf, with their template's settings, tags and policies: the
    pull-through cache's CachedRepositories and the registry's RepositoryCreator (create on push)."""

    def __init__(self, templates: TemplateFinder, repositories: RepositoryMaker, lifecycle: LifecyclePolicies) -> None:
        self._templates = templates
        self._repositories = repositories
        self._lifecycle = lifecycle

    async def create_cached_repository(self, scope: RegistryScope, repository: str) -> None:
        template = await self._templates.find_template_for(scope, repository, AppliedFor.PULL_THROUGH_CACHE)
        if template is None:
            await self._create(scope, repository, RepositorySettings(), ())
            return
        await self._create_from(scope, repository, template)

    async def covers_push(self, scope: RegistryScope, repository: str) -> bool:
        return await self._templates.find_template_for(scope, repository, AppliedFor.CREATE_ON_PUSH) is not None

    async def create_on_push(self, scope: RegistryScope, repository: str) -> bool:
        template = await self._templates.find_template_for(scope, repository, AppliedFor.CREATE_ON_PUSH)
        if template is None:
            return False
        await self._create_from(scope, repository, template)
        return True

    async def create_replica_repository(self, scope: RegistryScope, repository: str) -> None:
        """ECR's ReplicaRepositories: a repository replication creates in its destination gets the destination's
        REPLICATION template (default settings when none applies)."""
        template = await self._templates.find_template_for(scope, repository, AppliedFor.REPLICATION)
        if template is None:
            await self._create(scope, repository, RepositorySettings(), ())
            return
        await self._create_from(scope, repository, template)

    async def _create_from(self, scope: RegistryScope, repository: str, template: Template) -> None:
        """The repository with the template's settings and tags, then its policies; nothing happens when it exists
        (another request created it first)."""
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
