"""RepositoriesToBe (auth's port): the repository policy a repository the pull-through cache has yet to create will
carry, so that its first pull is decided as every later one will be.

A pull of `hub/library/alpine` that no repository holds yet creates it with the PULL_THROUGH_CACHE creation
template that covers it (cached_repositories.py), its repository policy included: that policy is the one to be.
"""

from __future__ import annotations

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.model import AppliedFor
from pullcache.pullthrough.ports import RepositoryContent, TemplateFinder
from pullcache.pullthrough.rule_resolver import RuleResolver


class CachedRepositoriesToBe:
    def __init__(self, rules: RuleResolver, templates: TemplateFinder, repositories: RepositoryContent) -> None:
        self._rules = rules
        self._templates = templates
        self._repositories = repositories

    async def policy_to_be(self, scope: RegistryScope, repository: str) -> str | None:
        if await self._rules.find_rule(scope, repository) is None:
            return None
        if await self._repositories.repository_exists(scope, repository):
            return None
        template = await self._templates.find_template_for(scope, repository, AppliedFor.PULL_THROUGH_CACHE)
        return None if template is None else template.settings.repository_policy or None
