"""Who may call an IAM operation: the one place IAM operations ask the Authorizer.

Every handler calls `authorize(context, "iam:<Action>", <resource ARN>)` before it acts, with the ARN of the
entity it acts on (path included when the entity exists). Root users are always allowed; IAM users and role
sessions are allowed what their identity-based policies allow, as the Authorizer's PrincipalPolicies say. A
GetSessionToken session may not call IAM at all (auth/session_credentials.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from pullcache.auth.authorization import AccessRequest, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.auth.session_credentials import refuse_user_session
from pullcache.policy import ContextValue

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class IamAccess:
    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    async def authorize(
        self, context: CallContext, action: str, resource: str, keys: Mapping[str, ContextValue] | None = None
    ) -> None:
        """Raises AccessDenied (pullcache.auth.authorization) unless the caller may perform `action`; its subclass
        UserSessionRefused for a GetSessionToken session."""
        refuse_user_session(context.principal, action, resource)
        request_keys: dict[str, ContextValue] = {
            "aws:SourceIp": context.source_ip,
            "aws:CurrentTime": context.received_at.strftime(TIME_FORMAT),
            "aws:EpochTime": str(int(context.received_at.timestamp())),
            "aws:SecureTransport": "true" if context.secure_transport else "false",
            "aws:RequestedRegion": context.region,
        }
        request_keys.update(keys or {})
        await self._authorizer.authorize(
            AccessRequest(context.principal, action, resource, resource_account=context.account, keys=request_keys)
        )
