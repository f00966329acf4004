"""Lifecycle policies: the grammar ECR documents, and the not-found cases of Get and Delete."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import pytest

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter, LifecyclePolicyNotFound, RepositoryNotFound
from pullcache.ecr.lifecycle import EcrLifecyclePolicies, check_lifecycle_policy
from pullcache.ecr.ports import LifecyclePolicy

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
NOW: Final = datetime(2025, 1, 2, tzinfo=UTC)


def rule(priority: Any = 1, **selection: Any) -> dict[str, Any]:
    chosen = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}
    chosen.update(selection)
    return {"rulePriority": priority, "selection": chosen, "action": {"type": "expire"}}


def policy(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def test_documented_policies_pass() -> None:
    check_lifecycle_policy(policy(rule()))
    check_lifecycle_policy(
        policy(
            rule(1, tagStatus="tagged", tagPrefixList=["v"], countType="imageCountMoreThan", countUnit=None),
            rule(2, tagStatus="any", countType="imageCountMoreThan", countNumber=100, countUnit=None),
        ).replace(', "countUnit": null', "")
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        policy(),
        policy(*(rule(i) for i in range(1, 52))),
        policy(rule(0)),
        policy(rule(True)),
        policy(rule(1), rule(1)),
        policy(rule(tagStatus="some")),
        policy(rule(tagStatus="tagged")),
        policy(rule(countType="always")),
        policy(rule(countNumber=0)),
        policy(rule(countUnit="hours")),
        json.dumps({"rules": [{"rulePriority": 1, "selection": rule()["selection"], "action": {"type": "keep"}}]}),
    ],
)
def test_policies_outside_the_grammar_are_invalid_parameters(text: str) -> None:
    with pytest.raises(InvalidParameter, match="Invalid parameter at 'lifecyclePolicyText' failed to satisfy"):
        check_lifecycle_policy(text)


class Repositories:
    async def find_repository(self, scope: RegistryScope, name: str) -> object | None:
        return object() if name == "team/app" else None


class MemoryPolicies:
    def __init__(self) -> None:
        self.policies: dict[str, LifecyclePolicy] = {}

    async def find_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        return self.policies.get(name)

    async def set_lifecycle_policy(self, scope: RegistryScope, name: str, text: str, at: datetime) -> bool:
        if name != "team/app":
            return False
        self.policies[name] = LifecyclePolicy(text, at)
        return True

    async def delete_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy | None:
        return self.policies.pop(name, None)


async def test_a_policy_is_put_got_and_deleted_as_set() -> None:
    policies = EcrLifecyclePolicies(Repositories(), MemoryPolicies(), clock=lambda: NOW)
    text = policy(rule())

    with pytest.raises(LifecyclePolicyNotFound, match="Lifecycle policy does not exist for the repository"):
        await policies.get_lifecycle_policy(SCOPE, "team/app")
    await policies.put_lifecycle_policy(SCOPE, "team/app", text)

    assert await policies.get_lifecycle_policy(SCOPE, "team/app") == LifecyclePolicy(text, NOW)
    assert (await policies.delete_lifecycle_policy(SCOPE, "team/app")).text == text
    with pytest.raises(LifecyclePolicyNotFound):
        await policies.delete_lifecycle_policy(SCOPE, "team/app")


async def test_a_missing_repository_is_not_found_before_its_policy() -> None:
    policies = EcrLifecyclePolicies(Repositories(), MemoryPolicies())

    for call in (
        policies.put_lifecycle_policy(SCOPE, "team/none", policy(rule())),
        policies.get_lifecycle_policy(SCOPE, "team/none"),
        policies.delete_lifecycle_policy(SCOPE, "team/none"),
    ):
        with pytest.raises(RepositoryNotFound):
            await call
