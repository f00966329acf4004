"""The pull-through cache's values that its stores keep: repository creation templates.

(A rule, PullThroughRule, is in rules.py beside its longest-prefix match; the upstream's values travel with their
port in ports.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.ports import Encryption
from pullcache.pullthrough.rules import ROOT_PREFIX
from pullcache.registry.tag_mutability import MUTABLE, TagMutabilityRule


class AppliedFor(StrEnum):
    PULL_THROUGH_CACHE = "PULL_THROUGH_CACHE"
    REPLICATION = "REPLICATION"
    CREATE_ON_PUSH = "CREATE_ON_PUSH"


@dataclass(frozen=True, slots=True)
class TemplateSettings:
    applied_for: tuple[AppliedFor, ...]
    description: str | None = None
    encryption: Encryption = field(default_factory=Encryption)
    resource_tags: tuple[tuple[str, str], ...] = ()
    tag_mutability: TagMutabilityRule = MUTABLE
    repository_policy: str | None = None
    lifecycle_policy: str | None = None
    custom_role_arn: str | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """A repository creation template: the settings a repository ECR creates itself gets, by prefix."""

    scope: RegistryScope
    prefix: str
    settings: TemplateSettings
    created_at: datetime
    updated_at: datetime

    def covers(self, repository: str) -> bool:
        return self.prefix == ROOT_PREFIX or repository.startswith(f"{self.prefix}/")
