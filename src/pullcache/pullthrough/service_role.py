"""ServiceRole: the pull-through cache acting as AWSServiceRoleForECRPullThroughCache, as ECR's cache does.

Every write the cache makes is made in a session of the account's service-linked role: the policy engine decides
it against the role's policy, RoleLastUsed records it (at most once per ROLE_USE_RESOLUTION), and while it runs
an import is on record (imports_in_flight.py), so the role cannot be deleted meanwhile. Without the role, nothing
is imported.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

from pullcache.caching.memo import TtlMemo
from pullcache.core.scopes import RegistryScope
from pullcache.iam.model import Role
from pullcache.policy import RequestPrincipal
from pullcache.pullthrough.imports_in_flight import ImportsInFlight
from pullcache.pullthrough.ports import RoleAct, RoleActivity, ServiceAuthorizer, ServiceLinkedRoles
from pullcache.registry.errors import Denied

log = logging.getLogger(__name__)

SESSION_NAME = "pullthroughcache"
ACCESS_DENIED = "AccessDeniedException"  # ECR's code for a call the caller's policies refuse
ROLE_TTL = 1.0  # seconds a worker trusts what it found of an account's service-linked role
ROLE_USE_RESOLUTION = timedelta(minutes=1)


class ServiceRole:
    def __init__(
        self,
        roles: ServiceLinkedRoles,
        authorizer: ServiceAuthorizer,
        in_flight: ImportsInFlight,
        activity: RoleActivity | None = None,
    ) -> None:
        """`activity`: told of each write made as the role (the audit trail)."""
        self._activity = activity
        self._roles = roles
        self._authorizer = authorizer
        self._in_flight = in_flight
        self._memo: TtlMemo[str, Role | None] = TtlMemo(ROLE_TTL)
        self._used: dict[str, datetime] = {}

    @asynccontextmanager
    async def acting(
        self, scope: RegistryScope, repository: str, *, recorded: bool = False
    ) -> AsyncIterator[RequestPrincipal]:
        """A session of the role for one piece of work on `repository`, recorded as an import while it runs
        (`recorded`: before it starts). Raises Denied when the role does not exist (nothing is recorded then)."""
        role = await self._session(scope)
        async with self._in_flight.importing(scope, repository, recorded=recorded):
            yield role

    async def authorize(
        self, session: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        """Raise Denied unless the role's policy allows every one of `actions` (repository None: the registry)."""
        await self._authorizer.authorize_service(session, scope, repository, actions)

    def acted(
        self,
        session: RequestPrincipal,
        scope: RegistryScope,
        action: str,
        parameters: dict[str, object],
        failed: Exception | None = None,
    ) -> None:
        """Tell the role's activity of a write made in `session`, or one that `failed` (refused: Denied, recorded
        as ECR's AccessDeniedException; any other error by its name)."""
        if self._activity is None:
            return
        error_code, error_message = (None, None) if failed is None else (_error_code(failed), str(failed))
        try:
            self._activity.role_acted(RoleAct(session, scope, action, parameters, error_code, error_message))
        except Exception:  # a record that cannot be kept never fails the import it records
            log.exception("recording the role's %s failed", action)

    def importing(self, scope: RegistryScope, repository: str) -> AbstractAsyncContextManager[None]:
        """An import on record while the block runs, without a session (an upstream fetch the role started)."""
        return self._in_flight.importing(scope, repository)

    async def close(self) -> None:
        """End the records of imports in flight (the server is stopping)."""
        await self._in_flight.close()

    async def _session(self, scope: RegistryScope) -> RequestPrincipal:
        """The service's session of the account's role (looked up at most every ROLE_TTL seconds)."""
        role = await self._memo.get(scope.account_id, lambda: self._roles.find_role(scope.account_id))
        if role is None:
            raise Denied(
                "The pull through cache cannot import images: the service-linked role "
                "AWSServiceRoleForECRPullThroughCache does not exist in this account"
            )
        await self._record_use(role, scope)
        return role_session(role)

    async def _record_use(self, role: Role, scope: RegistryScope) -> None:
        now = datetime.now(UTC)
        last = self._used.get(role.arn)
        if last is None or now - last >= ROLE_USE_RESOLUTION:
            self._used[role.arn] = now
            await self._roles.record_use(role, now, scope.region)


def role_session(role: Role) -> RequestPrincipal:
    """The principal of the service's session of `role`: `assumed-role/<role name>/<session>`."""
    partition = role.arn.split(":", 2)[1]
    session_arn = f"arn:{partition}:sts::{role.account}:assumed-role/{role.name}/{SESSION_NAME}"
    return RequestPrincipal.role_session(session_arn, role.arn, role.role_id)


def _error_code(error: Exception) -> str:
    """The code a write's record names for `error`: ECR's for a refusal, else the error's own name."""
    return ACCESS_DENIED if isinstance(error, Denied) else type(error).__name__
