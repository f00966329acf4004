"""Who may do what under /v2/, as the OCI API asks and answers it; the decisions are RegistryAccess's (auth/).

Authentication. A request carries `Authorization: Basic base64(AWS:<token>)` with a token from
GetAuthorizationToken. A request without credentials, or with empty ones (what containers/image sends after a
Basic challenge when it has none), is anonymous. A bad token is refused with 401; an expired one with 403
DENIED and ECR's text. A blob URL from GetDownloadUrlForLayer carries its own grant (`?grant=`) instead.

Authorization. Each endpoint names its ECR actions (routes.py), decided with the request's condition keys. An
anonymous caller refused gets 401 (credentials might help); anyone else 403 DENIED with AWS's AccessDenied text.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from pullcache.auth.authorization import AccessDenied
from pullcache.auth.registry_access import IMPORT, IMPORT_INTO_NEW, Access, RegistryAccess
from pullcache.auth.registry_tokens import (
    USERNAME,
    DownloadGrant,
    ExpiredRegistryToken,
    InvalidRegistryToken,
    RevokedRegistryToken,
    TokenClaims,
)
from pullcache.core.scopes import RegistryScope
from pullcache.policy import ContextValue, PrincipalType, RequestPrincipal
from pullcache.registry.api.context import scope
from pullcache.registry.errors import Denied, RegistryError, Unauthorized

# What a push that creates its repository needs beyond the push itself (ECR's create on push).
CREATE_REPOSITORY = Access(("ecr:CreateRepository",))
EXPIRED_TOKEN_MESSAGE = "Your authorization token has expired. Reauthenticate and try again."
REVOKED_TOKEN_MESSAGE = (
    "The credentials that obtained your authorization token are no longer valid. Reauthenticate and try again."
)
GRANT_PARAMETER = "grant"


class AccessControl:
    """RegistryAccess as the OCI API speaks: credentials read from the Authorization header, refusals raised as
    the registry errors the edge renders (Unauthorized, Denied)."""

    def __init__(self, access: RegistryAccess) -> None:
        self._access = access

    async def authenticate(self, authorization: str | None, scope: RegistryScope, now: datetime) -> RequestPrincipal:
        """The caller an Authorization header stands for (anonymous without one).

        Raises Unauthorized for credentials that are not a valid token, Denied for an expired one or one whose
        access key is no longer valid.
        """
        return (await self.identify(authorization, scope, now)).principal

    async def identify(self, authorization: str | None, scope: RegistryScope, now: datetime) -> TokenClaims:
        """As `authenticate`, with the access key that obtained the token. Raises as `authenticate` does."""
        try:
            return await self._access.identify(_token(authorization), scope, now)
        except ExpiredRegistryToken:
            raise Denied(EXPIRED_TOKEN_MESSAGE) from None
        except RevokedRegistryToken:
            raise Denied(REVOKED_TOKEN_MESSAGE) from None
        except InvalidRegistryToken:
            raise Unauthorized() from None

    def find_grant(self, grant: str, now: datetime) -> DownloadGrant | None:
        """What a download grant allows now, or None when it is not valid (any more)."""
        return self._access.find_grant(grant, now)

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
        try:
            await self._access.authorize(principal, scope, repository, access, keys)
        except AccessDenied as denied:
            raise _refusal(denied) from None

    async def authorize_import(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        repository: str,
        access: Access,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """As `authorize`, the registry policy granting each action too (RegistryAccess.authorize_import)."""
        try:
            await self._access.authorize_import(principal, scope, repository, access, keys)
        except AccessDenied as denied:
            raise _refusal(denied) from None

    async def authorize_service(
        self, principal: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        """Raise Denied unless `principal` (a service's role session) may perform every one of `actions` on the
        repository, or on the registry as a whole when `repository` is None."""
        try:
            await self._access.authorize_service(principal, scope, repository, actions)
        except AccessDenied as denied:
            raise _refusal(denied) from None

    async def allows(
        self,
        principal: RequestPrincipal,
        scope: RegistryScope,
        repository: str,
        action: str,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> bool:
        return await self._access.allows(principal, scope, repository, action, keys)


def _token(authorization: str | None) -> str | None:
    """The registry token of a Basic `AWS:<token>` header; None for no credentials or empty ones.

    Raises Unauthorized for any other scheme or user, and for a header that does not decode.
    """
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise Unauthorized()
    try:
        user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized() from None
    if not user and not password:
        return None
    if user != USERNAME:
        raise Unauthorized()
    return password


def _refusal(denied: AccessDenied) -> RegistryError:
    """401 for an anonymous caller, whom credentials might help; 403 DENIED with AWS's text for anyone else."""
    if denied.principal.type is PrincipalType.ANONYMOUS:
        return Unauthorized()
    return Denied(str(denied))


@dataclass(frozen=True, slots=True)
class CallerRequester:
    """The caller of a /v2/ request, as the pull-through cache asks before it imports on their behalf (a
    PullRequester) and as a push asks before it creates its repository (a Pusher)."""

    access: AccessControl
    principal: RequestPrincipal
    scope: RegistryScope
    request: web.Request

    async def authorize_import(self, repository: str, repository_exists: bool) -> None:
        # The request's condition keys are worked out only here: most pulls import nothing.
        needed = IMPORT if repository_exists else IMPORT_INTO_NEW
        keys = condition_keys(self.request, now())
        await self.access.authorize_import(self.principal, self.scope, repository, needed, keys)

    async def authorize_create(self, repository: str) -> None:
        keys = condition_keys(self.request, now())
        await self.access.authorize(self.principal, self.scope, repository, CREATE_REPOSITORY, keys)


ACCESS_CONTROL = web.AppKey("access_control", AccessControl)
_PRINCIPAL = "registry_principal"
_ACCESS_KEY = "registry_access_key"


def set_principal(request: web.Request, principal: RequestPrincipal, access_key_id: str | None = None) -> None:
    """Remember the caller, and the access key that obtained its token (what the audit trail names)."""
    request[_PRINCIPAL] = principal
    request[_ACCESS_KEY] = access_key_id


def requester(request: web.Request) -> CallerRequester | None:
    """The caller as the pull-through cache and create on push see it; None for a request that carries a download
    grant instead."""
    found = request.get(_PRINCIPAL)
    if not isinstance(found, RequestPrincipal):
        return None
    return CallerRequester(request.app[ACCESS_CONTROL], found, scope(request), request)


def principal_arn(request: web.Request) -> str | None:
    """The caller's aws:PrincipalArn (a role session's role), as pull time update exclusions name principals;
    None for an anonymous caller or a request that carries a download grant."""
    found = request.get(_PRINCIPAL)
    if not isinstance(found, RequestPrincipal) or found.type is PrincipalType.ANONYMOUS:
        return None
    return found.principal_arn


def find_principal(request: web.Request) -> RequestPrincipal | None:
    """The caller, as the access middleware authenticated it; None before it did, or for a download grant."""
    found = request.get(_PRINCIPAL)
    return found if isinstance(found, RequestPrincipal) else None


def find_access_key(request: web.Request) -> str | None:
    """The access key that obtained the caller's token; None without a token, or before the caller was known."""
    found = request.get(_ACCESS_KEY)
    return found if isinstance(found, str) else None


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
