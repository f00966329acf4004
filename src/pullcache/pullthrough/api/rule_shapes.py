"""The wire shapes of ECR's pull-through cache rule operations, member by member: the members of each request that
pullcache reads, and the members of each response it writes, named once here.

A newer ECR model that adds a member to one of these shapes (as `upstreamRoleArn` was added) shows up as a member
this module does not name: tests/unit/pullthrough/test_rule_shapes.py compares the lists with the model pullcache
runs on, so a botocore upgrade cannot silently drop a field a client sends, or leave out one it expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pullcache.pullthrough.rules import PullThroughRule

# The model's PullThroughCacheRule (DescribePullThroughCacheRules lists them), each member read off the rule.
RULE_FIELDS: Mapping[str, Callable[[PullThroughRule], Any]] = {
    "ecrRepositoryPrefix": lambda rule: rule.prefix,
    "upstreamRegistryUrl": lambda rule: rule.upstream_url,
    "createdAt": lambda rule: rule.created_at,
    "registryId": lambda rule: rule.scope.account_id,
    "credentialArn": lambda rule: rule.credential_arn,
    "customRoleArn": lambda rule: rule.custom_role_arn,
    "upstreamRoleArn": lambda rule: rule.upstream_role_arn,
    "upstreamRepositoryPrefix": lambda rule: rule.upstream_repository_prefix,
    "upstreamRegistry": lambda rule: rule.upstream_registry,
    "updatedAt": lambda rule: rule.updated_at,
}

# The members of each operation's request that its handler reads (pullthrough/api/operations.py).
REQUEST_MEMBERS: Mapping[str, frozenset[str]] = {
    "CreatePullThroughCacheRule": frozenset(
        {
            "ecrRepositoryPrefix",
            "upstreamRegistryUrl",
            "registryId",
            "upstreamRegistry",
            "credentialArn",
            "customRoleArn",
            "upstreamRoleArn",
            "upstreamRepositoryPrefix",
        }
    ),
    "DescribePullThroughCacheRules": frozenset({"registryId", "ecrRepositoryPrefixes", "nextToken", "maxResults"}),
    "UpdatePullThroughCacheRule": frozenset(
        {"registryId", "ecrRepositoryPrefix", "credentialArn", "customRoleArn", "upstreamRoleArn"}
    ),
    "DeletePullThroughCacheRule": frozenset({"registryId", "ecrRepositoryPrefix"}),
    "ValidatePullThroughCacheRule": frozenset({"registryId", "ecrRepositoryPrefix"}),
}

# The members of each operation's response that its handler writes: the rule's (RULE_FIELDS) and the others.
RESPONSE_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "CreatePullThroughCacheRule": (
        "ecrRepositoryPrefix",
        "upstreamRegistryUrl",
        "createdAt",
        "registryId",
        "upstreamRegistry",
        "credentialArn",
        "customRoleArn",
        "upstreamRoleArn",
        "upstreamRepositoryPrefix",
    ),
    "DescribePullThroughCacheRules": ("pullThroughCacheRules", "nextToken"),
    "UpdatePullThroughCacheRule": (
        "ecrRepositoryPrefix",
        "registryId",
        "updatedAt",
        "credentialArn",
        "customRoleArn",
        "upstreamRoleArn",
        "upstreamRepositoryPrefix",
    ),
    "DeletePullThroughCacheRule": (
        "ecrRepositoryPrefix",
        "upstreamRegistryUrl",
        "createdAt",
        "registryId",
        "credentialArn",
        "customRoleArn",
        "upstreamRoleArn",
        "upstreamRepositoryPrefix",
    ),
    "ValidatePullThroughCacheRule": (
        "ecrRepositoryPrefix",
        "registryId",
        "upstreamRegistryUrl",
        "credentialArn",
        "customRoleArn",
        "upstreamRoleArn",
        "upstreamRepositoryPrefix",
        "isValid",
        "failure",
    ),
}


def rule_shape(rule: PullThroughRule, operation: str | None = None) -> dict[str, Any]:
    """The rule's members in `operation`'s response (the whole PullThroughCacheRule when None); the handler adds
    the members that are not the rule's (isValid, failure)."""
    members = RULE_FIELDS.keys() if operation is None else RESPONSE_MEMBERS[operation]
    return {member: RULE_FIELDS[member](rule) for member in members if member in RULE_FIELDS}
