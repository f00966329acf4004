"""The policies IAM holds for a caller: the Authorizer's PrincipalPolicies over IAM's read API.

    caller                    identity-based policies                                  permissions boundary
    IAM user (AIDA...)        its inline and attached policies, then each group's      the user's
    role session (AROA...:s)  the role's inline and attached policies                  the role's
    anyone else               none (the root user needs none; the engine allows it)    none

A role session's session policies - the inline `Policy` and the managed `PolicyArns` it was assumed with - are
found by its session id through the SessionPolicySource port: the inline one parsed, each managed one read as
its current default version. A managed session policy that no longer exists, or is neither AWS managed nor the
role's account's own, allows nothing (the session keeps its other session policies; with none left it is allowed
nothing, never more than it was given). A session id that names no session is allowed only what a resource-based
policy grants that session by its own ARN.

Every decision uses the current policies, so a change made through any worker process applies to the very next
request: the store may keep what it read only until the next write (metadata/read_cache.py). Parsed documents are
cached by their text alone (parsing is a pure function of it), which stays correct however the entities change.

A session outlives nothing of its role: a session whose role was deleted (or deleted and created again under
the same name, which gives it a new unique id) gets no policies, so it is allowed nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from pullcache.auth.ports import PrincipalPolicySet
from pullcache.caching.memo import TtlMemo
from pullcache.iam.arns import parse_policy_arn
from pullcache.iam.errors import IamValidationError
from pullcache.iam.ports import IamPrincipals, RolePermissions, SessionPolicyRefs, SessionPolicySource, StoredPolicy
from pullcache.iam.roles import SERVICE_LINKED_PATH
from pullcache.policy import (
    PolicyDocument,
    PolicyKind,
    PolicySourceType,
    PrincipalType,
    RequestPrincipal,
    SourcedPolicy,
    parse_policy,
)

DOCUMENT_CACHE_SIZE = 512
SERVICE_ROLE_PATH = f":role{SERVICE_LINKED_PATH}"  # in the ARN of every service-linked role
SERVICE_ROLE_TTL = 1.0  # seconds
INLINE_SESSION_POLICY_ID = "Policy"  # the AssumeRole parameter that carried it
# No identity-based policies, and session policies that allow nothing: not even a resource-based policy that
# names the role allows a session that cannot be found.
_UNKNOWN_SESSION = PrincipalPolicySet(session_policies=())


class IamPrincipalPolicies:
    def __init__(
        self,
        principals: IamPrincipals,
        sessions: SessionPolicySource | None = None,
        cache_size: int = DOCUMENT_CACHE_SIZE,
    ) -> None:
        """Without `sessions` no session can be found, so principals naming one are treated as unknown sessions."""
        self._principals = principals
        self._sessions = sessions
        self._documents = ParsedDocuments(cache_size)
        self._service_roles: TtlMemo[RequestPrincipal, PrincipalPolicySet] = TtlMemo(SERVICE_ROLE_TTL)

    async def policies_for(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        """Raises MalformedPolicyDocument only for a stored document that no longer parses (never expected:
        documents are checked when stored); refusing is safer than deciding without it."""
        match principal.type:
            case PrincipalType.USER if principal.user_id is not None:
                user = await self._principals.find_user_permissions(principal.user_id)
                if user is None:
                    return PrincipalPolicySet()
                return self._policy_set(user.identity_policies(), user.permissions_boundary)
            case PrincipalType.ASSUMED_ROLE if principal.role_arn is not None and _service_session(principal):
                return await self._service_role_policies(principal)
            case PrincipalType.ASSUMED_ROLE if principal.role_arn is not None:
                role = await self._principals.find_role_permissions(principal.role_arn)
                if role is None or role.role_id != _role_id_of(principal):
                    return PrincipalPolicySet()
                policies = self._policy_set(role.identity_policies(), role.permissions_boundary)
                if principal.session_id is None:
                    return policies
                refs = await self._find_session_policies(principal.session_id)
                if refs is None:
                    return _UNKNOWN_SESSION
                if not refs.given:
                    return policies
                session_policies = await self._session_policies(refs, role)
                return PrincipalPolicySet(policies.identity, policies.permissions_boundary, session_policies)
        return PrincipalPolicySet()

    async def _service_role_policies(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        """A service's session of a service-linked role: its policies cannot change (IAM refuses every edit but
        the description), so they are read at most every SERVICE_ROLE_TTL seconds; that bounds how long a
        deleted role's session keeps them."""
        return await self._service_roles.get(principal, lambda: self._read_service_role_policies(principal))

    async def _read_service_role_policies(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        assert principal.role_arn is not None
        role = await self._principals.find_role_permissions(principal.role_arn)
        if role is None or role.role_id != _role_id_of(principal):
            return PrincipalPolicySet()
        return self._policy_set(role.identity_policies(), role.permissions_boundary)

    def _policy_set(self, identity: Sequence[StoredPolicy], boundary: StoredPolicy | None) -> PrincipalPolicySet:
        return PrincipalPolicySet(
            identity=tuple(self._sourced(policy) for policy in identity),
            permissions_boundary=None if boundary is None else self._sourced(boundary),
        )

    async def _find_session_policies(self, session_id: str) -> SessionPolicyRefs | None:
        return None if self._sessions is None else await self._sessions.find_session_policies(session_id)

    async def _session_policies(self, refs: SessionPolicyRefs, role: RolePermissions) -> tuple[SourcedPolicy, ...]:
        found = []
        if refs.policy is not None:
            document = self._documents.parse(refs.policy)
            found.append(SourcedPolicy(document, INLINE_SESSION_POLICY_ID, PolicySourceType.NONE))
        for arn in refs.policy_arns:
            managed = await self._principals.find_managed_policy(arn) if _usable_in(arn, role.account) else None
            if managed is not None:
                found.append(self._sourced(managed))
        return tuple(found)

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


def _usable_in(arn: str, account: str) -> bool:
    """Whether `arn` names a managed policy a session in `account` may use: an AWS managed one or its own."""
    try:
        parsed = parse_policy_arn(arn)
    except IamValidationError:
        return False
    return parsed is not None and (parsed.aws_managed or parsed.account == account)


def _service_session(principal: RequestPrincipal) -> bool:
    """A service's own session of a service-linked role (no session credentials: the service holds it)."""
    return principal.session_id is None and SERVICE_ROLE_PATH in (principal.role_arn or "")


def _role_id_of(principal: RequestPrincipal) -> str | None:
    """The role's unique id in a session's aws:userid (`AROA...:session-name`)."""
    if principal.user_id is None:
        return None
    return principal.user_id.split(":", 1)[0]
