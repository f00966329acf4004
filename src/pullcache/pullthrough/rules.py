"""Pull-through cache rules as values, and which rule a repository name falls under.

A rule maps the repositories under `<prefix>/` of one registry scope to an upstream registry:

    rule  prefix "quay"        upstream quay.io                     quay/coreos/etcd  -> coreos/etcd
    rule  prefix "hub"         upstream registry-1.docker.io        hub/alpine        -> library/alpine
    rule  prefix "team"        upstream prefix "mirror"             team/app          -> mirror/app
    rule  prefix "ROOT"        upstream prefix "mirror"             app               -> mirror/app

The longest prefix wins; ROOT (every repository) only when no other prefix matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pullcache.core.scopes import RegistryScope

ROOT_PREFIX = "ROOT"
DOCKER_HUB_HOST = "registry-1.docker.io"
DOCKER_HUB_OFFICIAL = "library"
# A cached tag is asked of the upstream again (a HEAD) when its last check is older than this.
DEFAULT_TAG_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class PullThroughRule:
    """One rule. `upstream_url` is as ECR reports it (`quay.io`, or `http://127.0.0.1:5000` for a plain-HTTP
    upstream); `upstream_registry` is ECR's kind (`quay`, `docker-hub`, ...), None for any other OCI registry."""

    scope: RegistryScope
    prefix: str
    upstream_url: str
    upstream_registry: str | None
    created_at: datetime
    updated_at: datetime
    credential_arn: str | None = None
    custom_role_arn: str | None = None
    upstream_repository_prefix: str | None = None
    upstream_role_arn: str | None = None  # the role assumed through custom_role_arn (ecr-public-premium only)
    tag_ttl: timedelta = DEFAULT_TAG_TTL

    @property
    def base_url(self) -> str:
        """Where the upstream's /v2/ API is: https unless the rule's URL says http://."""
        if self.upstream_url.startswith(("http://", "https://")):
            return self.upstream_url.rstrip("/")
        return f"https://{self.upstream_url.rstrip('/')}"

    def covers(self, repository: str) -> bool:
        return self.prefix == ROOT_PREFIX or repository.startswith(f"{self.prefix}/")

    def upstream_repository(self, repository: str) -> str:
        """The upstream's name for the local `repository` (which this rule covers)."""
        rest = repository if self.prefix == ROOT_PREFIX else repository[len(self.prefix) + 1 :]
        if self.upstream_repository_prefix and self.upstream_repository_prefix != ROOT_PREFIX:
            rest = f"{self.upstream_repository_prefix}/{rest}"
        if self.is_docker_hub and "/" not in rest:
            rest = f"{DOCKER_HUB_OFFICIAL}/{rest}"
        return rest

    @property
    def is_docker_hub(self) -> bool:
        return self.upstream_registry == "docker-hub" or self.upstream_url.rstrip("/") == DOCKER_HUB_HOST


def match_rule(rules: Iterable[PullThroughRule], repository: str) -> PullThroughRule | None:
    """The rule with the longest prefix covering `repository`; ROOT only when no other does."""
    best: PullThroughRule | None = None
    for rule in rules:
        if not rule.covers(repository):
            continue
        if best is None or _rank(rule) > _rank(best):
            best = rule
    return best


def _rank(rule: PullThroughRule) -> int:
    return -1 if rule.prefix == ROOT_PREFIX else len(rule.prefix)
