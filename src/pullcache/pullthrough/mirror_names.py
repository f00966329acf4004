"""RuleMirrors: the local repositories that serve runtimes using this server as a registry mirror (the registry's
MirrorNames port, registry/api/mirror.py), by the rules of this registry (mirrors.py says which rule and which
name).

Docker's daemon mirrors Docker Hub alone and names no upstream; on the Docker Hub mirror port every name is Docker
Hub's and is served from the rule the server names for it (`serve --docker-hub-mirror PREFIX`): `library/alpine`
(or `alpine`) from `PREFIX/library/alpine`. The rule should be one whose upstream serves Docker Hub's names
(registry-1.docker.io, or a mirror of it).
"""

from __future__ import annotations

import logging

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.mirrors import docker_hub_repository, local_repository
from pullcache.pullthrough.rule_resolver import RuleResolver

log = logging.getLogger(__name__)


class RuleMirrors:
    def __init__(self, rules: RuleResolver, docker_hub_prefix: str | None = None) -> None:
        self._rules = rules
        self._docker_hub_prefix = docker_hub_prefix

    async def mirrored(self, scope: RegistryScope, host: str, repository: str) -> str | None:
        rule = await self._rules.find_mirror_rule(scope, host, repository)
        return None if rule is None else local_repository(rule, repository)

    async def docker_hub_mirrored(self, scope: RegistryScope, repository: str) -> str | None:
        prefix = self._docker_hub_prefix
        if prefix is None:
            return None
        served = f"{prefix}/{docker_hub_repository(repository)}"
        rule = await self._rules.find_rule(scope, served)
        # The rule named, or a longer one under it (which the cache would fetch with); never ROOT's.
        if rule is None or not f"{rule.prefix}/".startswith(f"{prefix}/"):
            log.warning("the Docker Hub mirror's rule prefix %s names no pull-through cache rule", prefix)
            return None
        return served
