"""The policies IAM holds for a caller: the Authorizer's PrincipalPolicies over IAM's read API.

    caller                    identity-based policies                                  permissions boundary
    IAM user (AIDA...)        its inline and attached policies, then each group's      the user's
    role session (AROA...:s)  the role's inline and attached policies                  the role's
    anyone else               none (the root user needs none; the engine allows it)    none

Nothing about users and roles is cached: every decision reads the current policies, so a change made through
any worker process applies to the very next request. Parsed documents are cached by their text alone (parsing
is a pure function of it), which stays correct however the entities change.

A session outlives nothing of its role: a session whose role was deleted (or deleted and created again under
the same name, which gives it a new unique id) gets no policies, so it is allowed nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from pullcache.auth.authorization import PrincipalPolicySet
from pullcache.iam.policy import (
    PolicyDocument,
    PolicyKind,
    PrincipalType,
    RequestPrincipal,
    SourcedPolicy,
    parse_policy,
)
from pullcache.iam.ports import IamPrincipals, StoredPolicy

DOCUMENT_CACHE_SIZE = 512


class IamPrincipalPolicies:
    def __init__(self, principals: IamPrincipals, cache_size: int = DOCUMENT_CACHE_SIZE) -> None:
        self._principals = principals
        self._documents = ParsedDocuments(cache_size)

    async def policies_for(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        """Raises MalformedPolicyDocument only for a stored document that no longer parses (never expected:
        documents are checked when stored); refusing is safer than deciding without it."""
        match principal.type:
            case PrincipalType.USER if principal.user_id is not None:
                user = await self._principals.find_user_permissions(principal.user_id)
                if user is None:
                    return PrincipalPolicySet()
                return self._policy_set(user.identity_policies(), user.permissions_boundary)
            case PrincipalType.ASSUMED_ROLE if principal.role_arn is not None:
                role = await self._principals.find_role_permissions(principal.role_arn)
                if role is None or role.role_id != _role_id_of(principal):
                    return PrincipalPolicySet()
                return self._policy_set(role.identity_policies(), role.permissions_boundary)
        return PrincipalPolicySet()

    def _policy_set(self, identity: Sequence[StoredPolicy], boundary: StoredPolicy | None) -> PrincipalPolicySet:
        return PrincipalPolicySet(
            identity=tuple(self._sourced(policy) for policy in identity),
            permissions_boundary=None if boundary is None else self._sourced(boundary),
        )

    def _sourced(self, policy: StoredPolicy) -> SourcedPolicy:
        return SourcedPolicy(self._documents.parse(policy.document), policy.source_id, policy.source_type)


class ParsedDocuments:
    """Identity-based policy documents parsed once per text, the least recently used dropped past `size`."""

    def __init__(self, size: int = DOCUMENT_CACHE_SIZE) -> None:
        self._size = size
        self._parsed: OrderedDict[str, PolicyDocument] = OrderedDict()

    def parse(self, text: str) -> PolicyDocument:
        """Raises MalformedPolicyDocument."""
        found = self._parsed.get(text)
        if found is not None:
            self._parsed.move_to_end(text)
            return found
        document = parse_policy(text, PolicyKind.IDENTITY)
        self._parsed[text] = document
        if len(self._parsed) > self._size:
            self._parsed.popitem(last=False)
        return document


def _role_id_of(principal: RequestPrincipal) -> str | None:
    """The role's unique id in a session's aws:userid (`AROA...:session-name`)."""
    if principal.user_id is None:
        return None
    return principal.user_id.split(":", 1)[0]
