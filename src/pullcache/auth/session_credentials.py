"""What a GetSessionToken session may not call, whatever its user's policies allow.

AWS documents two limits on the temporary credentials GetSessionToken returns: they cannot call IAM's API unless
the session was authenticated with MFA (no session here ever is: pullcache has no MFA devices), and they cannot call
STS except AssumeRole and GetCallerIdentity (STS refuses the others itself: sts/service.py). Such a session is a
user's or the root user's principal that carries a session id (its temporary access key, sts/model.py); role
sessions are told apart by their type.

The limit is on calling IAM's API (iam/api/access.py asks `refuse_user_session`), not on IAM actions other services
check on a caller's behalf (iam:PassRole, iam:CreateServiceLinkedRole for a pull-through cache rule). AWS answers
such an IAM call as if the token were unknown: InvalidClientTokenId, "The security token included in the request
is invalid" (reasoned from what AWS sends; its documentation states the limit, not the error).
"""

from __future__ import annotations

from pullcache.auth.authorization import AccessDenied
from pullcache.policy import PrincipalType, RequestPrincipal

INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid"


class UserSessionRefused(AccessDenied):
    """A GetSessionToken session called an API such sessions cannot call (IAM's)."""

    def __init__(self, principal: RequestPrincipal, action: str, resource: str) -> None:
        Exception.__init__(self, INVALID_TOKEN_MESSAGE)  # AWS's wording, not AccessDenied's
        self.principal = principal
        self.action = action
        self.resource = resource


def is_user_session(principal: RequestPrincipal) -> bool:
    """Whether `principal` signs with GetSessionToken's temporary credentials (an IAM user's or root's session)."""
    return principal.type in (PrincipalType.USER, PrincipalType.ACCOUNT) and principal.session_id is not None


def refuse_user_session(principal: RequestPrincipal, action: str, resource: str) -> None:
    """Raises UserSessionRefused when `principal` is a GetSessionToken session (for a call of IAM's API)."""
    if is_user_session(principal):
        raise UserSessionRefused(principal, action, resource)
