"""Whether a resource-based policy's Principal or NotPrincipal element names the caller, and how.

How the caller is named decides what an Allow in a resource-based policy is worth (see evaluation.py):

    GrantKind.DIRECT   the caller itself: its user, role session or federated user ARN, "*", a service or provider
    GrantKind.ROLE     the role whose session the caller is
    GrantKind.ACCOUNT  the caller's account (`123456789012` or `arn:aws:iam::123456789012:root`): a delegation

A caller is a chain of identities - account, then user; or account, role, session - and NotPrincipal leaves out
only a caller whose every link it names, which is why AWS asks a NotPrincipal to list the account too.
"""

from __future__ import annotations

from enum import IntEnum

from pullcache.policy.context import PrincipalType, RequestPrincipal
from pullcache.policy.documents import Principals


class GrantKind(IntEnum):
    """How a Principal element names the caller; a higher value is a more direct grant."""

    ACCOUNT = 1
    ROLE = 2
    DIRECT = 3


def principal_grant(principals: Principals, caller: RequestPrincipal) -> GrantKind | None:
    """The most direct way `principals` names `caller`, or None when it does not."""
    if principals.everyone or "*" in principals.aws:
        return GrantKind.DIRECT
    named = [kind for kind, link in _chain(caller) if _names(principals, caller, kind, link)]
    return max(named, default=None)


def not_principal_excludes(principals: Principals, caller: RequestPrincipal) -> bool:
    """Whether a NotPrincipal element leaves `caller` out: only when it names every link of the caller's chain."""
    if principals.everyone or "*" in principals.aws:
        return True
    chain = _chain(caller)
    return bool(chain) and all(_names(principals, caller, kind, link) for kind, link in chain)


def _chain(caller: RequestPrincipal) -> list[tuple[GrantKind, str]]:
    """The identities AWS may check for `caller`, from its account down to itself."""
    match caller.type:
        case PrincipalType.SERVICE | PrincipalType.WEB_IDENTITY:
            return [(GrantKind.DIRECT, caller.arn)]
        case PrincipalType.ANONYMOUS:
            return []
    chain = [(GrantKind.ACCOUNT, caller.account or "")]
    if caller.type is PrincipalType.ASSUMED_ROLE and caller.role_arn is not None:
        chain.append((GrantKind.ROLE, caller.role_arn))
    if caller.type is not PrincipalType.ACCOUNT:
        chain.append((GrantKind.DIRECT, caller.arn))
    return chain


def _names(principals: Principals, caller: RequestPrincipal, kind: GrantKind, link: str) -> bool:
    if caller.type is PrincipalType.SERVICE:
        return link in principals.service
    if caller.type is PrincipalType.WEB_IDENTITY:
        return link in principals.federated
    if kind is GrantKind.ACCOUNT:
        return any(_account_named(entry) == link for entry in principals.aws)
    return link in principals.aws


def _account_named(entry: str) -> str | None:
    """The account an AWS principal entry names as a whole: `123456789012` or `arn:<partition>:iam::<id>:root`."""
    if entry.isdigit():
        return entry
    parts = entry.split(":")
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return None
