"""Who may do what under /v2/: authentication by registry token, authorization by the ECR action AWS checks.

Authentication. A request carries `Authorization: Basic base64(AWS:<token>)` with a token from
GetAuthorizationToken. A request without credentials, or with empty ones (what containers/image sends after a
Basic challenge when it has none), is anonymous. A bad token is refused with 401; an expired one with 403
DENIED and ECR's text. A blob URL from GetDownloadUrlForLayer carries its own grant (`?grant=`) instead.

Authorization. Each endpoint names its ECR actions (routes.py); the Authorizer decides them on the repository's
ARN with the repository policy as the resource policy, so `"Principal": "*"` lets anonymous callers pull. An
anonymous caller refused gets 401 (credentials might help); anyone else 403 DENIED with AWS's AccessDenied text.

With `anonymous_is_root` (the --anonymous-registry flag, for labs and for tests of the OCI protocol alone),
requests without credentials act as the root user of the scope's account.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.auth.registry_tokens import (
    USERNAME,
    DownloadGrant,
    ExpiredRegistryToken,
    InvalidRegistryToken,
    RegistryTokens,
)
from pullcache.core.scopes import RegistryScope
from pullcache.policy import (
    ContextValue,
    PolicyError,
    PolicyKind,
    PolicySourceType,
    PrincipalType,
    RequestPrincipal,
    SourcedPolicy,
    parse_policy,
)
from pullcache.registry.api.context import scope
from pullcache.registry.errors import Denied, Unauthorized

log = logging.getLogger(__name__)

EXPIRED_TOKEN_MESSAGE = "Your authorization token has expired. Reauthenticate and try again."
GRANT_PARAMETER = "grant"
_POLICY_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Access:
    """The ECR actions an endpoint needs: all of them, or (`any_of`) one. `on_registry`: the resource is the
    registry as a whole (`repository/*`), not the repository in the path."""

    actions: tuple[str, ...]
    any_of: bool = False
    on_registry: bool = False

    def also(self, *actions: str) -> Access:
        return Access((*self.actions, *actions), self.any_of, self.on_registry)


class RepositoryPolicies(Protocol):
    async def find_repository_policy(self, scope: RegistryScope, repository: str) -> str | None:
        """The repository policy's text, or None when the repository has none (or does not exist)."""
        ...

    async def find_registry_policy(self, scope: RegistryScope) -> str | None:
        """The registry policy's text, or None."""
        ...


class RegistryAccess:
    def __init__(
        self,
        tokens: RegistryTokens,
        authorizer: Authorizer,
        policies: RepositoryPolicies,
        *,
        anonymous_is_root: bool = False,
    ) -> None:
        self.tokens = tokens
        self._authorizer = authorizer
        self._policies = policies
        self._anonymous_is_root = anonymous_is_root
        self._parsed: dict[str, SourcedPolicy | None] = {}

    def authenticate(self, authorization: str | None, scope: RegistryScope, now: datetime) -> RequestPrincipal:
        """The caller an Authorization header stands for (anonymous without one).

        Raises Unauthorized for credentials that are not a valid token, Denied for an expired one.
        """
        if not authorization:
            return self._anonymous(scope)
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthorized()
        try:
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized() from None
        if not user and not password:
            return self._anonymous(scope)
        if user != USERNAME:
            raise Unauthorized()
        try:
            return self.tokens.verify(password, now)
        except ExpiredRegistryToken:
            raise Denied(EXPIRED_TOKEN_MESSAGE) from None
        except InvalidRegistryToken:
            raise Unauthorized() from None

    def find_grant(self, grant: str, now: datetime) -> DownloadGrant | None:
        """What a download grant allows now, or None when it is not valid (any more)."""
        try:
            return self.tokens.verify_download(grant, now)
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
        """Raises Unauthorized (an anonymous caller) or Denied unless the policies allow `access`.

        `keys` are the request's condition keys (aws:SourceIp, ...).
        """
        denial: AccessDenied | None = None
        target = await self._target(scope, repository, access.on_registry)  # read once for every action
        for action in access.actions:
            try:
                await self._decide(principal, scope, target, action, keys)
            except AccessDenied as denied:
                denial = denial or denied
                if not access.any_of:
                    break
            else:
                if access.any_of:
                    return
        if denial is None:
            return
        if principal.type is PrincipalType.ANONYMOUS:
            raise Unauthorized()
        raise Denied(str(denial))

    async def authorize_import(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        repository: str,
        access: Access,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """As `authorize`, but each action may also be granted by the registry policy, which is how ECR's registry
        permissions let principals import through the pull-through cache and create its repositories."""
        target = await self._target(scope, repository, False)
        for action in access.actions:
            try:
                await self._decide(principal, scope, target, action, keys)
            except AccessDenied as denied:
                registry_policy = await self._registry_policy(scope)
                by_registry = (scope.repository_arn(repository), registry_policy)
                if registry_policy is None or not await self._permits(principal, scope, by_registry, action, keys):
                    if principal.type is PrincipalType.ANONYMOUS:
                        raise Unauthorized() from None
                    raise Denied(str(denied)) from None

    async def _registry_policy(self, scope: RegistryScope) -> SourcedPolicy | None:
        text = await self._policies.find_registry_policy(scope)
        return None if text is None else self._parse_cached(text, scope.repository_arn("*"))

    async def authorize_service(
        self, principal: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        """Raise Denied unless `principal` (a service's role session) may perform every one of `actions` on the
        repository, or on the registry as a whole when `repository` is None."""
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
        return resource, await self._repository_policy(scope, repository, resource)

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
        try:
            await self._decide(principal, scope, target, action, keys)
        except AccessDenied:
            return False
        return True

    async def _repository_policy(self, scope: RegistryScope, repository: str, arn: str) -> SourcedPolicy | None:
        text = await self._policies.find_repository_policy(scope, repository)
        return None if text is None else self._parse_cached(text, arn)

    def _parse_cached(self, text: str, arn: str) -> SourcedPolicy | None:
        if text not in self._parsed:
            if len(self._parsed) >= _POLICY_CACHE_SIZE:
                self._parsed.clear()
            self._parsed[text] = _parse(text, arn)
        return self._parsed[text]

    def _anonymous(self, scope: RegistryScope) -> RequestPrincipal:
        return RequestPrincipal.root(scope.account_id) if self._anonymous_is_root else RequestPrincipal.anonymous()


def _parse(text: str, arn: str) -> SourcedPolicy | None:
    try:
        return SourcedPolicy(parse_policy(text, PolicyKind.RESOURCE), arn, PolicySourceType.RESOURCE)
    except PolicyError:
        # SetRepositoryPolicy validates what it stores; a policy that no longer parses allows nothing.
        log.error("the repository policy of %s does not parse; ignoring it", arn)
        return None


# What a pull that imports upstream content needs beyond the pull itself (ECR: "Pull through cache" permissions).
IMPORT = Access(("ecr:BatchImportUpstreamImage",))
IMPORT_INTO_NEW = IMPORT.also("ecr:CreateRepository")


@dataclass(frozen=True, slots=True)
class CallerRequester:
    """The caller of a /v2/ request, as the pull-through cache asks before it imports on their behalf."""

    access: RegistryAccess
    principal: RequestPrincipal
    scope: RegistryScope
    request: web.Request

    async def authorize_import(self, repository: str, repository_exists: bool) -> None:
        # The request's condition keys are worked out only here: most pulls import nothing.
        needed = IMPORT if repository_exists else IMPORT_INTO_NEW
        keys = condition_keys(self.request, now())
        await self.access.authorize_import(self.principal, self.scope, repository, needed, keys)


REGISTRY_ACCESS = web.AppKey("registry_access", RegistryAccess)
_PRINCIPAL = "registry_principal"


def set_principal(request: web.Request, principal: RequestPrincipal) -> None:
    request[_PRINCIPAL] = principal


def requester(request: web.Request) -> CallerRequester | None:
    """The caller as the pull-through cache sees it; None for a request that carries a download grant instead."""
    found = request.get(_PRINCIPAL)
    if not isinstance(found, RequestPrincipal):
        return None
    return CallerRequester(request.app[REGISTRY_ACCESS], found, scope(request), request)


def principal(request: web.Request) -> RequestPrincipal:
    """The caller, as the access middleware authenticated it."""
    found = request.get(_PRINCIPAL)
    assert isinstance(found, RequestPrincipal), "the access middleware runs before every /v2/ handler"
    return found


def now() -> datetime:
    return datetime.now(UTC)


def condition_keys(request: web.Request, moment: datetime) -> dict[str, ContextValue]:
    """The global condition keys a /v2/ request sets."""
    return {
        "aws:SourceIp": request.remote or "",
        "aws:SecureTransport": "true" if request.secure else "false",
        "aws:CurrentTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
