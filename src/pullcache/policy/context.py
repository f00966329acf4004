"""The request context: who asks to do what to which resource, and the condition keys that describe the request.

Condition key names ignore case (`aws:SourceIp` is `AWS:sourceip`). Keys about the principal and the resource
account are derived from the principal unless given explicitly:

    key                  IAM user          role session            root                federated user
    aws:username         user name         (absent)                (absent)            (absent)
    aws:userid           AIDA...           AROA...:session-name    account id          account:name
    aws:PrincipalArn     user ARN          role ARN                arn:...:root        federated-user ARN
    aws:PrincipalType    User              AssumedRole             Account             FederatedUser
    aws:PrincipalAccount the principal's account; aws:ResourceAccount the resource's account when known
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

ContextValue = str | Sequence[str]


class PrincipalType(StrEnum):
    """Who made the request; the first five are the values of aws:PrincipalType."""

    ACCOUNT = "Account"  # the account's root user
    USER = "User"
    FEDERATED_USER = "FederatedUser"
    ASSUMED_ROLE = "AssumedRole"
    ANONYMOUS = "Anonymous"
    SERVICE = "Service"  # an AWS service assuming a role; `arn` is the service principal name
    WEB_IDENTITY = "WebIdentity"  # a federated identity assuming a role; `arn` is the identity provider


_AWS_PRINCIPAL_TYPES = frozenset(
    {
        PrincipalType.ACCOUNT,
        PrincipalType.USER,
        PrincipalType.FEDERATED_USER,
        PrincipalType.ASSUMED_ROLE,
        PrincipalType.ANONYMOUS,
    }
)


@dataclass(frozen=True, slots=True)
class RequestPrincipal:
    """The caller. `arn` is what GetCallerIdentity reports (for a role session, the assumed-role ARN)."""

    type: PrincipalType
    arn: str
    account: str | None = None
    user_name: str | None = None  # IAM users only
    user_id: str | None = None
    role_arn: str | None = None  # the role behind an assumed-role session
    # The temporary access key id of a session: an assumed role's (how its session policies are found) or a
    # GetSessionToken session's (what tells it from its user's own keys).
    session_id: str | None = None

    @classmethod
    def root(cls, account: str, partition: str = "aws") -> RequestPrincipal:
        return cls(PrincipalType.ACCOUNT, f"arn:{partition}:iam::{account}:root", account, user_id=account)

    @classmethod
    def user(cls, arn: str, user_id: str) -> RequestPrincipal:
        """An IAM user, from its ARN (`arn:aws:iam::<account>:user/<path><name>`)."""
        return cls(PrincipalType.USER, arn, _account_of(arn), arn.rsplit("/", 1)[-1], user_id)

    @classmethod
    def role_session(
        cls, session_arn: str, role_arn: str, role_id: str, session_id: str | None = None
    ) -> RequestPrincipal:
        """A session of a role, from its ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`)."""
        session_name = session_arn.rsplit("/", 1)[-1]
        account = _account_of(session_arn)
        user_id = f"{role_id}:{session_name}"
        return cls(PrincipalType.ASSUMED_ROLE, session_arn, account, None, user_id, role_arn, session_id)

    @classmethod
    def anonymous(cls) -> RequestPrincipal:
        return cls(PrincipalType.ANONYMOUS, "*")

    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: for a role session, the role's ARN."""
        return self.role_arn if self.role_arn is not None else self.arn


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request to authorize. `resource` is an ARN, or `*` for actions that name no resource."""

    principal: RequestPrincipal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    keys: Mapping[str, ContextValue] = field(default_factory=dict)

    def find_values(self, key: str) -> tuple[str, ...] | None:
        """The values of condition key `key`, matched ignoring case; None when the request has no such key."""
        wanted = key.casefold()
        for name, value in self.keys.items():
            if name.casefold() == wanted:
                return (value,) if isinstance(value, str) else tuple(value)
        derived = self._derived_key(wanted)
        return None if derived is None else (derived,)

    def _derived_key(self, key: str) -> str | None:
        principal = self.principal
        match key:
            case "aws:username":
                return principal.user_name
            case "aws:userid":
                return principal.user_id
            case "aws:principalaccount":
                return principal.account
            case "aws:principalarn":
                return principal.principal_arn if principal.account is not None else None
            case "aws:principaltype":
                return str(principal.type) if principal.type in _AWS_PRINCIPAL_TYPES else None
            case "aws:resourceaccount":
                return self.resource_account
        return None


def _account_of(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None
