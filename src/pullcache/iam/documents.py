"""Checking policy documents before IAM stores them: the grammar (pullcache.policy) and IAM's size quotas.

Sizes count the characters of a document that are not white space, as IAM does: 6,144 for a managed policy,
2,048 for a role's trust policy, and for all the inline policies of one entity together 2,048 (user),
5,120 (group) or 10,240 (role).
"""

from __future__ import annotations

from collections.abc import Iterable

from pullcache.iam.errors import EntityKind, LimitExceeded
from pullcache.policy import PolicyKind, parse_policy

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_POLICIES_SIZE = {EntityKind.USER: 2048, EntityKind.GROUP: 5120, EntityKind.ROLE: 10240}


def policy_size(document: str) -> int:
    return sum(1 for character in document if not character.isspace())


def check_managed_policy(document: str) -> None:
    """Raises MalformedPolicyDocument or LimitExceeded."""
    parse_policy(document, PolicyKind.IDENTITY, require_current_version=True)
    if policy_size(document) > MANAGED_POLICY_SIZE:
        raise LimitExceeded.quota("PolicySize", MANAGED_POLICY_SIZE)


def check_trust_policy(document: str) -> None:
    """Raises MalformedPolicyDocument or LimitExceeded."""
    parse_policy(document, PolicyKind.TRUST)
    if policy_size(document) > TRUST_POLICY_SIZE:
        raise LimitExceeded.quota("ACLSize", TRUST_POLICY_SIZE)


def check_inline_policy(document: str, kind: EntityKind, entity_name: str, others: Iterable[str]) -> None:
    """`document` as one more inline policy of the entity beside the documents `others`.

    Raises MalformedPolicyDocument or LimitExceeded.
    """
    parse_policy(document, PolicyKind.IDENTITY)
    limit = INLINE_POLICIES_SIZE[kind]
    if policy_size(document) + sum(policy_size(other) for other in others) > limit:
        raise LimitExceeded.inline_policy_size(kind, entity_name, limit)
