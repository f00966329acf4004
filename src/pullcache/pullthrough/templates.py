"""Repository creation templates: the settings ECR gives a repository it creates itself (a pull-through cache
fill, replication, create on push), chosen by the longest prefix of the repository's name, then ROOT.

    template  prefix "hub"    applied for PULL_THROUGH_CACHE    hub/library/alpine  gets its settings
    template  prefix "ROOT"   applied for PULL_THROUGH_CACHE    quay/coreos/etcd    gets these (no other prefix)

The service checks what ECR documents of each setting (CreateRepositoryCreationTemplate): a prefix or ROOT, at
least one appliedFor, an encryption whose KMS key goes with KMS, resource tags as ECR's tags, the image tag
mutability with its exclusion filters, a repository policy and a lifecycle policy that parse, and a customRoleArn
of the registry's own account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.lifecycle import check_lifecycle_policy
from pullcache.ecr.pagination import page_after
from pullcache.ecr.ports import AES256, Encryption, RepositorySettings
from pullcache.policy import MalformedPolicyDocument, PolicyKind, parse_policy
from pullcache.pullthrough.model import AppliedFor, Template, TemplateSettings
from pullcache.pullthrough.ports import TemplateStore
from pullcache.pullthrough.rule_errors import InvalidRuleParameter, TemplateAlreadyExists, TemplateNotFound
from pullcache.pullthrough.rules import ROOT_PREFIX
from pullcache.registry.tag_mutability import TagMutabilityRule

MAX_RESOURCE_TAGS = 50
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]+")
# ECR's text for a repository policy it cannot parse (SetRepositoryPolicy's, for the same document).
INVALID_REPOSITORY_POLICY = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
)


@dataclass(frozen=True, slots=True)
class TemplateChanges:
    """UpdateRepositoryCreationTemplate's parameters: None leaves a setting as it is."""

    applied_for: tuple[AppliedFor, ...] | None = None
    description: str | None = None
    encryption: Encryption | None = None
    resource_tags: tuple[tuple[str, str], ...] | None = None
    tag_mutability: TagMutabilityRule | None = None
    repository_policy: str | None = None
    lifecycle_policy: str | None = None
    custom_role_arn: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedTemplate:
    """What a repository created under a template gets."""

    settings: RepositorySettings
    resource_tags: tuple[tuple[str, str], ...]
    repository_policy: str | None
    lifecycle_policy: str | None


def apply_template(template: Template) -> AppliedTemplate:
    settings = template.settings
    return AppliedTemplate(
        RepositorySettings(settings.tag_mutability, False, settings.encryption),
        settings.resource_tags,
        settings.repository_policy or None,
        settings.lifecycle_policy or None,
    )


class RepositoryTemplateService:
    def __init__(self, store: TemplateStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    async def create_template(self, scope: RegistryScope, prefix: str, settings: TemplateSettings) -> Template:
        """Raises InvalidRuleParameter, the ECR InvalidParameter (a lifecycle policy), TemplateAlreadyExists."""
        prefix = _prefix(prefix)
        _check(scope, settings)
        now = self._clock()
        template = Template(scope, prefix, settings, now, now)
        if not await self._store.add_template(template):
            raise TemplateAlreadyExists(scope, prefix)
        return template

    async def get_template(self, scope: RegistryScope, prefix: str) -> Template:
        found = await self._store.find_template(scope, _prefix(prefix))
        if found is None:
            raise TemplateNotFound(scope, prefix)
        return found

    async def describe_templates(
        self, scope: RegistryScope, prefixes: Sequence[str] | None, token: str | None, limit: int | None
    ) -> tuple[list[Template], str | None]:
        """The named templates that exist (others are left out), or all of them, a page of at most `limit`."""
        found = list(await self._store.list_templates(scope))
        if prefixes:
            wanted = {_prefix(prefix) for prefix in prefixes}
            found = [template for template in found if template.prefix in wanted]
        return page_after(found, _template_prefix, token, limit)

    async def update_template(self, scope: RegistryScope, prefix: str, changes: TemplateChanges) -> Template:
        """Raises TemplateNotFound, and as create_template for the settings."""
        current = await self.get_template(scope, prefix)
        given = {name: getattr(changes, name) for name in TemplateChanges.__dataclass_fields__}
        settings = replace(current.settings, **{name: value for name, value in given.items() if value is not None})
        _check(scope, settings)
        updated = replace(current, settings=settings, updated_at=self._clock())
        if not await self._store.replace_template(updated):
            raise TemplateNotFound(scope, prefix)
        return updated

    async def delete_template(self, scope: RegistryScope, prefix: str) -> Template:
        deleted = await self._store.delete_template(scope, _prefix(prefix))
        if deleted is None:
            raise TemplateNotFound(scope, prefix)
        return deleted

    async def find_template_for(
        self, scope: RegistryScope, repository: str, applied_for: AppliedFor
    ) -> Template | None:
        """The template for a repository created for `applied_for`: the longest prefix covering its name among
        the templates applied for that, else ROOT's, else None."""
        best: Template | None = None
        for template in await self._store.list_templates(scope):
            if applied_for not in template.settings.applied_for or not template.covers(repository):
                continue
            if best is None or _rank(template) > _rank(best):
                best = template
        return best


def _template_prefix(template: Template) -> str:
    return template.prefix


def _rank(template: Template) -> int:
    return -1 if template.prefix == ROOT_PREFIX else len(template.prefix)


def _prefix(given: str) -> str:
    """A prefix always ends in an assumed `/`; the template keeps it without."""
    return given if given == ROOT_PREFIX else given.rstrip("/")


def _check(scope: RegistryScope, settings: TemplateSettings) -> None:
    # The texts below are reasoned in ECR's form ("Invalid parameter at '<member>' failed to satisfy constraint").
    if not settings.applied_for:
        raise InvalidRuleParameter(
            "Invalid parameter at 'appliedFor' failed to satisfy constraint: 'Member must have at least one value'"
        )
    _check_encryption(settings.encryption)
    _check_tags(settings.resource_tags)
    _check_mutability(settings.tag_mutability)
    if settings.repository_policy:
        try:
            parse_policy(settings.repository_policy, PolicyKind.RESOURCE)
        except MalformedPolicyDocument:
            raise InvalidRuleParameter(INVALID_REPOSITORY_POLICY) from None
    if settings.lifecycle_policy:
        check_lifecycle_policy(settings.lifecycle_policy, "lifecyclePolicy")
    role = settings.custom_role_arn
    if role:
        match = _ROLE_ARN.fullmatch(role)
        if match is None or match.group(1) != scope.account_id:
            raise InvalidRuleParameter(
                "Invalid parameter at 'customRoleArn' failed to satisfy constraint: 'The role must be an IAM role "
                f"in the account {scope.account_id}'"
            )


def _check_encryption(encryption: Encryption) -> None:
    if encryption.encryption_type == AES256 and encryption.kms_key:
        raise InvalidRuleParameter(
            "Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: 'kmsKey can only be "
            "specified with the KMS or KMS_DSSE encryption type'"
        )


def _check_tags(tags: Sequence[tuple[str, str]]) -> None:
    for key, value in tags:
        if not key or len(key) > 128 or len(value) > 256:
            raise InvalidRuleParameter(
                f"Invalid parameter at 'resourceTags' failed to satisfy constraint: 'Tag key '{key}' must have 1 to "
                "128 characters, its value 0 to 256'"
            )
        if key.lower().startswith("aws:"):
            raise InvalidRuleParameter(
                "Invalid parameter at 'resourceTags' failed to satisfy constraint: 'Tag keys with the 'aws:' prefix "
                "are reserved for AWS use'"
            )
    if len({key for key, _ in tags}) > MAX_RESOURCE_TAGS:
        raise InvalidRuleParameter(
            "Invalid parameter at 'resourceTags' failed to satisfy constraint: 'A resource can have at most "
            f"{MAX_RESOURCE_TAGS} tags'"
        )


def _check_mutability(rule: TagMutabilityRule) -> None:
    # The same texts as CreateRepository's (ecr/service.py).
    if rule.mutability.takes_exclusions and not rule.exclusion_filters:
        raise InvalidRuleParameter(
            f"Invalid parameter: imageTagMutabilityExclusionFilters are required with {rule.mutability.value}"
        )
    if not rule.mutability.takes_exclusions and rule.exclusion_filters:
        raise InvalidRuleParameter(
            f"Invalid parameter: imageTagMutabilityExclusionFilters cannot be used with {rule.mutability.value}"
        )
