"""Repository creation templates: ECR's checks, updates that keep what they do not name, and which template a new
repository gets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

import pytest

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter, RepositoryAlreadyExists
from pullcache.ecr.ports import Encryption, RepositorySettings
from pullcache.pullthrough.cached_repositories import TemplatedRepositories
from pullcache.pullthrough.model import AppliedFor, Template, TemplateSettings
from pullcache.pullthrough.rule_errors import InvalidRuleParameter, TemplateAlreadyExists, TemplateNotFound
from pullcache.pullthrough.templates import RepositoryTemplateService, TemplateChanges, apply_template
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
NOW: Final = datetime(2025, 1, 2, tzinfo=UTC)
PTC: Final = (AppliedFor.PULL_THROUGH_CACHE,)
POLICY: Final = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]}
)
LIFECYCLE: Final = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
                "action": {"type": "expire"},
            }
        ]
    }
)


class MemoryTemplates:
    def __init__(self) -> None:
        self.templates: dict[tuple[RegistryScope, str], Template] = {}

    async def add_template(self, template: Template) -> bool:
        if (template.scope, template.prefix) in self.templates:
            return False
        self.templates[template.scope, template.prefix] = template
        return True

    async def find_template(self, scope: RegistryScope, prefix: str) -> Template | None:
        return self.templates.get((scope, prefix))

    async def list_templates(self, scope: RegistryScope) -> Sequence[Template]:
        return sorted((t for (s, _), t in self.templates.items() if s == scope), key=lambda t: t.prefix)

    async def replace_template(self, template: Template) -> bool:
        if (template.scope, template.prefix) not in self.templates:
            return False
        self.templates[template.scope, template.prefix] = template
        return True

    async def delete_template(self, scope: RegistryScope, prefix: str) -> Template | None:
        return self.templates.pop((scope, prefix), None)


@pytest.fixture
def service() -> RepositoryTemplateService:
    return RepositoryTemplateService(MemoryTemplates(), clock=lambda: NOW)


async def test_a_template_is_created_once_per_prefix(service: RepositoryTemplateService) -> None:
    created = await service.create_template(SCOPE, "hub/", TemplateSettings(PTC, description="d"))

    assert (created.prefix, created.settings.description, created.created_at) == ("hub", "d", NOW)
    with pytest.raises(TemplateAlreadyExists):
        await service.create_template(SCOPE, "hub", TemplateSettings(PTC))


@pytest.mark.parametrize(
    "settings",
    [
        TemplateSettings(()),
        TemplateSettings(PTC, encryption=Encryption("AES256", "arn:aws:kms:us-east-1:123456789012:key/k")),
        TemplateSettings(PTC, resource_tags=(("aws:owner", "x"),)),
        TemplateSettings(PTC, resource_tags=tuple((f"k{i}", "v") for i in range(51))),
        TemplateSettings(PTC, tag_mutability=TagMutabilityRule(TagMutability.IMMUTABLE_WITH_EXCLUSION, ())),
        TemplateSettings(PTC, tag_mutability=TagMutabilityRule(TagMutability.MUTABLE, ("latest",))),
        TemplateSettings(PTC, repository_policy="{not json"),
        TemplateSettings(PTC, custom_role_arn="arn:aws:iam::999999999999:role/other-account"),
        TemplateSettings(PTC, custom_role_arn="not-an-arn"),
    ],
)
async def test_settings_ecr_refuses_are_invalid_parameters(
    service: RepositoryTemplateService, settings: TemplateSettings
) -> None:
    with pytest.raises(InvalidRuleParameter, match="Invalid parameter"):
        await service.create_template(SCOPE, "hub", settings)


async def test_a_lifecycle_policy_that_does_not_parse_is_refused(service: RepositoryTemplateService) -> None:
    with pytest.raises(InvalidParameter, match="'lifecyclePolicy'"):
        await service.create_template(SCOPE, "hub", TemplateSettings(PTC, lifecycle_policy='{"rules": []}'))


async def test_valid_policies_and_role_are_kept_as_given(service: RepositoryTemplateService) -> None:
    settings = TemplateSettings(
        PTC,
        repository_policy=POLICY,
        lifecycle_policy=LIFECYCLE,
        custom_role_arn="arn:aws:iam::123456789012:role/ecr-templates",
        encryption=Encryption("KMS", "arn:aws:kms:us-east-1:123456789012:key/k"),
    )

    assert (await service.create_template(SCOPE, "hub", settings)).settings == settings


async def test_an_update_changes_only_what_it_names(service: RepositoryTemplateService) -> None:
    await service.create_template(SCOPE, "hub", TemplateSettings(PTC, description="old", lifecycle_policy=LIFECYCLE))

    updated = await service.update_template(SCOPE, "hub", TemplateChanges(description="new"))

    assert (updated.settings.description, updated.settings.lifecycle_policy) == ("new", LIFECYCLE)
    with pytest.raises(TemplateNotFound):
        await service.update_template(SCOPE, "none", TemplateChanges(description="x"))


async def test_delete_returns_the_template_then_it_is_not_found(service: RepositoryTemplateService) -> None:
    created = await service.create_template(SCOPE, "hub", TemplateSettings(PTC))

    assert await service.delete_template(SCOPE, "hub") == created
    with pytest.raises(TemplateNotFound):
        await service.delete_template(SCOPE, "hub")


async def test_describe_leaves_out_unknown_prefixes_and_pages(service: RepositoryTemplateService) -> None:
    for name in ("cc", "aa", "bb"):
        await service.create_template(SCOPE, name, TemplateSettings(PTC))

    named, _ = await service.describe_templates(SCOPE, ["bb", "zz"], None, None)
    first, token = await service.describe_templates(SCOPE, None, None, 2)
    rest, end = await service.describe_templates(SCOPE, None, token, 2)

    assert [t.prefix for t in named] == ["bb"]
    assert [t.prefix for t in first + rest] == ["aa", "bb", "cc"]
    assert end is None


async def test_the_longest_prefix_applied_for_the_purpose_wins_then_root(service: RepositoryTemplateService) -> None:
    await service.create_template(SCOPE, "ROOT", TemplateSettings(PTC, description="root"))
    await service.create_template(SCOPE, "hub", TemplateSettings(PTC, description="hub"))
    await service.create_template(SCOPE, "hub/library", TemplateSettings(PTC, description="library"))
    await service.create_template(
        SCOPE, "hub/library/alpine", TemplateSettings((AppliedFor.REPLICATION,), description="replication")
    )

    async def chosen(repository: str, purpose: AppliedFor = AppliedFor.PULL_THROUGH_CACHE) -> str | None:
        found = await service.find_template_for(SCOPE, repository, purpose)
        return None if found is None else found.settings.description

    assert await chosen("hub/library/alpine/x") == "library"
    assert await chosen("hub/other") == "hub"
    assert await chosen("hubble/x") == "root"
    assert await chosen("hub/library/alpine/x", AppliedFor.REPLICATION) == "replication"
    assert await chosen("quay/x", AppliedFor.CREATE_ON_PUSH) is None


def test_applying_a_template_gives_repository_settings_tags_and_policies() -> None:
    rule = TagMutabilityRule(TagMutability.IMMUTABLE_WITH_EXCLUSION, ("latest",))
    settings = TemplateSettings(
        PTC,
        encryption=Encryption("KMS", None),
        resource_tags=(("team", "platform"),),
        tag_mutability=rule,
        repository_policy=POLICY,
        lifecycle_policy="",
    )

    applied = apply_template(Template(SCOPE, "hub", settings, NOW, NOW))

    assert (applied.settings.tag_mutability, applied.settings.encryption) == (rule, Encryption("KMS", None))
    assert applied.resource_tags == (("team", "platform"),)
    assert (applied.repository_policy, applied.lifecycle_policy) == (POLICY, None)


# -- repositories created from templates: on first pull and on push ------------------------------------------


class RecordingRepositories:
    """RepositoryMaker and LifecyclePolicies: what was created, with which settings, tags and policies."""

    def __init__(self) -> None:
        self.created: dict[str, tuple[RepositorySettings, tuple[tuple[str, str], ...]]] = {}
        self.policies: dict[str, str] = {}
        self.lifecycle: dict[str, str] = {}

    async def create_repository(
        self, scope: RegistryScope, name: str, settings: RepositorySettings, tags: Sequence[tuple[str, str]]
    ) -> object:
        if name in self.created:
            raise RepositoryAlreadyExists(scope, name)
        self.created[name] = (settings, tuple(tags))
        return name

    async def set_repository_policy(self, scope: RegistryScope, name: str, text: str) -> None:
        self.policies[name] = text

    async def put_lifecycle_policy(self, scope: RegistryScope, name: str, text: str) -> None:
        self.lifecycle[name] = text


async def test_a_push_creates_only_under_a_create_on_push_template_with_its_settings(
    service: RepositoryTemplateService,
) -> None:
    immutable = TagMutabilityRule(TagMutability.IMMUTABLE)
    await service.create_template(SCOPE, "ROOT", TemplateSettings(PTC))
    await service.create_template(
        SCOPE,
        "team",
        TemplateSettings(
            (AppliedFor.CREATE_ON_PUSH,),
            resource_tags=(("team", "a"),),
            tag_mutability=immutable,
            repository_policy=POLICY,
            lifecycle_policy=LIFECYCLE,
        ),
    )
    made = RecordingRepositories()
    templated = TemplatedRepositories(service, made, made)

    assert not await templated.covers_push(SCOPE, "other/app")  # ROOT is for the pull-through cache only
    assert not await templated.create_on_push(SCOPE, "other/app")
    assert await templated.covers_push(SCOPE, "team/app")
    assert await templated.create_on_push(SCOPE, "team/app")
    assert await templated.create_on_push(SCOPE, "team/app")  # created already: left as it is

    assert made.created == {"team/app": (RepositorySettings(immutable), (("team", "a"),))}
    assert (made.policies, made.lifecycle) == ({"team/app": POLICY}, {"team/app": LIFECYCLE})
    await templated.create_cached_repository(SCOPE, "hub/app")  # the cache's ROOT template: ECR's defaults
    assert made.created["hub/app"] == (RepositorySettings(), ())
