"""Who may do what in a registry: the caller a registry token stands for, and ECR actions decided on repositories.

Authentication. A registry token from GetAuthorizationToken names its principal and the access key that
obtained it; the token is refused once that key is inactive or deleted, or its STS session is over (its
expiry already caps the token's). The key is looked up at most once a second per process (KEY_CHECK_SECONDS),
so a key made inactive stops its tokens within about a second on every worker. A caller without a token is
anonymous; with `anonymous_is_root` (the --anonymous-registry flag, for labs and for tests of the OCI protocol
alone) it is the root user of the scope's account.

Authorization. An Access names the ECR actions a request needs; the Authorizer decides them on the repository's
ARN with the repository policy as the resource policy, so `"Principal": "*"` lets anonymous callers pull, or on
the registry as a whole (`repository/*`). A refusal raises AccessDenied with AWS's text; the protocol edge says
what that is on its wire.

A repository the server has yet to create for the very pull asking (the pull-through cache's first pull) has no
policy yet: a pull, or its import, is decided, when the caller's own policies refuse it, with the policy the
repository will carry (RepositoriesToBe: its creation template's), so that a first pull is decided as every later
one will be. A registry mirror's anonymous callers (runtimes on cluster nodes) rely on it. A push is never decided
so: the repository it creates carries another template's policy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.auth.observations import UNOBSERVED, AccessObserver
from pullcache.auth.ports import CredentialStore, RepositoriesToBe, RepositoryPolicies
from pullcache.auth.registry_tokens import (
    DownloadGrant,
    ExpiredRegistryToken,
    InvalidRegistryToken,
    RegistryTokens,
    RevokedRegistryToken,
    TokenClaims,
)
from pullcache.caching.memo import TtlMemo
from pullcache.core.scopes import RegistryScope
from pullcache.policy import (
    ContextValue,
    PolicyError,
    PolicyKind,
    PolicySourceType,
    RequestPrincipal,
    SourcedPolicy,
    parse_policy,
)

log = logging.getLogger(__name__)

_POLICY_CACHE_SIZE = 256
KEY_CHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Access:
    """The ECR actions an endpoint needs: all of them, or (`any_of`) one. `on_registry`: the resource is the
    registry as a whole (`repository/*`), not the repository in the path."""

    actions: tuple[str, ...]
    any_of: bool = False
    on_registry: bool = False

    def also(self, *actions: str) -> Access:
        return Access((*self.actions, *actions), self.any_of, self.on_registry)


# What a pull that imports upstream content needs beyond the pull itself (ECR: "Pull through cache" permissions).
IMPORT = Access(("ecr:BatchImportUpstreamImage",))
IMPORT_INTO_NEW = IMPORT.also("ecr:CreateRepository")
# The actions of a pull: those a repository's policy to be may decide (the import's aside, see authorize_import).
PULL_ACTIONS = frozenset({"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"})


class RegistryAccess:
    def __init__(
        self,
        tokens: RegistryTokens,
        authorizer: Authorizer,
        policies: RepositoryPolicies,
        credentials: CredentialStore,
        *,
        anonymous_is_root: bool = False,
        observer: AccessObserver = UNOBSERVED,
        to_be: RepositoriesToBe | None = None,
    ) -> None:
        """`observer`: told of each token refused; `to_be`: the policies of repositories yet to be created."""
        self._to_be = to_be
        self._observer = observer
        self._tokens = tokens
        self._credentials = credentials
        self._keys_valid: TtlMemo[str, datetime | None] = TtlMemo(KEY_CHECK_SECONDS)
        self._authorizer = authorizer
        self._policies = policies
        self._anonymous_is_root = anonymous_is_root
        self._parsed: dict[str, SourcedPolicy | None] = {}

    async def authenticate(self, token: str | None, scope: RegistryScope, now: datetime) -> RequestPrincipal:
        """The principal `token` was issued to; without a token, the anonymous caller (or the root user of the
        scope's account, with `anonymous_is_root`).

        Raises InvalidRegistryToken for a token this server did not sign, ExpiredRegistryToken for an expired one,
        RevokedRegistryToken for one whose access key is no longer valid.
        """
        return (await self.identify(token, scope, now)).principal

    async def identify(self, token: str | None, scope: RegistryScope, now: datetime) -> TokenClaims:
        """As `authenticate`, with the access key that obtained the token (None without a token). Raises as
        `authenticate` does."""
        if token is None:
            anonymous = (
                RequestPrincipal.root(scope.account_id) if self._anonymous_is_root else RequestPrincipal.anonymous()
            )
            return TokenClaims(anonymous, None)
        try:
            claims = self._tokens.verify(token, now)
            if claims.access_key_id is not None:
                valid_until = await self._keys_valid.get(claims.access_key_id, lambda: self._key_valid_until(claims))
                if valid_until is None or valid_until <= now:
                    raise RevokedRegistryToken("the access key that obtained the token is no longer valid")
        except InvalidRegistryToken as refused:
            self._observer.token_refused(_refusal_reason(refused))
            raise
        return claims

    async def _key_valid_until(self, claims: TokenClaims) -> datetime | None:
        """Until when the token's key signs for its principal: None when it does not (any more), the datetime's
        maximum for a key that does not expire."""
        assert claims.access_key_id is not None
        found = await self._credentials.find_credentials(claims.access_key_id)
        if found is None or not found.active:
            return None
        return found.expires_at or datetime.max.replace(tzinfo=UTC)

    def find_grant(self, grant: str, now: datetime) -> DownloadGrant | None:
        """What a download grant allows now, or None when it is not valid (any more)."""
        try:
            return self._tokens.verify_download(grant, now)
        except InvalidRegistryToken:
            return None

    async def authorize(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        repository: str | None,
        access: Access,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """Raises AccessDenied (the first action refused) unless the policies allow `access`.

        `keys` are the request's condition keys (aws:SourceIp, ...).
        """
        resource, resource_policy = await self._target(scope, repository, access.on_registry)  # one read for all
        if (
            resource_policy is None
            and repository is not None
            and not access.on_registry
            and self._to_be is not None
            and PULL_ACTIONS.issuperset(access.actions)
        ):
            # Decided first without counting a refusal: the policy to be may allow what the caller's refuse.
            decisions = [await self._permits(principal, scope, (resource, None), a, keys) for a in access.actions]
            if any(decisions) if access.any_of else all(decisions):
                return
            resource_policy = await self._policy_to_be(scope, repository, resource)
        denial: AccessDenied | None = None
        for action in access.actions:
            try:  # the Authorizer asked here, not through _decide: every /v2/ request passes this way
                await self._authorizer.authorize(
                    AccessRequest(principal, action, resource, scope.account_id, resource_policy, keys or {})
                )
            except AccessDenied as denied:
                denial = denial or denied
                if not access.any_of:
                    break
            else:
                if access.any_of:
                    return
        if denial is not None:
            raise denial

    async def authorize_import(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        repository: str,
        access: Access,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """As `authorize`, but each action may also be granted by the registry policy, which is how ECR's registry
        permissions let principals import through the pull-through cache and create its repositories. The
        AccessDenied raised is the repository's refusal."""
        target = await self._target(scope, repository, False)
        if target[1] is None and self._to_be is not None:
            target = (target[0], await self._policy_to_be(scope, repository, target[0]))
        for action in access.actions:
            try:
                await self._decide(principal, scope, target, action, keys)
            except AccessDenied:
                registry_policy = await self._registry_policy(scope)
                by_registry = (scope.repository_arn(repository), registry_policy)
                if registry_policy is None or not await self._permits(principal, scope, by_registry, action, keys):
                    raise

    async def authorize_service(
        self, principal: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        """Raise AccessDenied unless `principal` (a service's role session) may perform every one of `actions` on
        the repository, or on the registry as a whole when `repository` is None."""
        await self.authorize(principal, scope, repository, Access(tuple(actions), on_registry=repository is None))

    async def allows(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        repository: str,
        action: str,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> bool:
        return await self._permits(principal, scope, await self._target(scope, repository, False), action, keys)

    async def _target(
        self, scope: RegistryScope, repository: str | None, on_registry: bool
    ) -> tuple[str, SourcedPolicy | None]:
        """The resource a request acts on, and its resource policy: the repository's, or none for the registry."""
        if repository is None or on_registry:
            return scope.repository_arn("*"), None
        resource = scope.repository_arn(repository)
        text = await self._policies.find_repository_policy(scope, repository)
        return resource, None if text is None else self._parse_cached(text, resource)

    async def _policy_to_be(self, scope: RegistryScope, repository: str, resource: str) -> SourcedPolicy | None:
        assert self._to_be is not None
        text = await self._to_be.policy_to_be(scope, repository)
        return None if text is None else self._parse_cached(text, resource)

    async def _registry_policy(self, scope: RegistryScope) -> SourcedPolicy | None:
        text = await self._policies.find_registry_policy(scope)
        return None if text is None else self._parse_cached(text, scope.repository_arn("*"))

    async def _decide(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        target: tuple[str, SourcedPolicy | None],
        action: str,
        keys: Mapping[str, ContextValue] | None,
    ) -> None:
        resource, resource_policy = target
        await self._authorizer.authorize(
            AccessRequest(principal, action, resource, scope.account_id, resource_policy, keys or {})
        )

    async def _permits(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        target: tuple[str, SourcedPolicy | None],
        action: str,
        keys: Mapping[str, ContextValue] | None,
    ) -> bool:
        # Decided, not authorized: a question whose "no" refuses nothing (the Authorizer counts refusals only).
        resource, resource_policy = target
        decision = await self._authorizer.decide(
            AccessRequest(principal, action, resource, scope.account_id, resource_policy, keys or {})
        )
        return decision.allowed

    def _parse_cached(self, text: str, arn: str) -> SourcedPolicy | None:
        if text not in self._parsed:
            if len(self._parsed) >= _POLICY_CACHE_SIZE:
                self._parsed.clear()
            self._parsed[text] = _parse(text, arn)
        return self._parsed[text]


def _refusal_reason(refused: InvalidRegistryToken) -> str:
    if isinstance(refused, ExpiredRegistryToken):
        return "expired"
    if isinstance(refused, RevokedRegistryToken):
        return "revoked"
    return "invalid"


def _parse(text: str, arn: str) -> SourcedPolicy | None:
    try:
        return SourcedPolicy(parse_policy(text, PolicyKind.RESOURCE), arn, PolicySourceType.RESOURCE)
    except PolicyError:
        # SetRepositoryPolicy validates what it stores; a policy that no longer parses allows nothing.
        log.error("the repository policy of %s does not parse; ignoring it", arn)
        return None
