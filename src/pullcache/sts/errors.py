"""What STS refuses, as facts; each error's text is the message AWS STS sends for it.

StsError
├── StsAccessDenied
│   ├── AssumeRoleDenied        "User: <caller> is not authorized to perform: sts:AssumeRole on resource: <role>"
│   ├── RootCannotAssumeRoles   "Roles may not be assumed by root accounts."
│   ├── SessionCredentialsRefused  "Cannot call GetSessionToken with session credentials"
│   └── MfaFailed               "MultiFactorAuthentication failed, unable to validate MFA code. ..."
├── StsValidationError      "<arn> is invalid", "The requested DurationSeconds exceeds ..."
├── InvalidParameterValue   "Duplicate tag keys found. ...", "The specified transitive tag key must be ..."
├── InvalidAuthorizationMessage  a message DecodeAuthorizationMessage cannot decode
└── PackedPolicyTooLarge    "Packed policy consumes 120% of allotted space"

Malformed session policies raise pullcache.policy.MalformedPolicyDocument. The STS edge maps these classes
(sts/api/operations.py): AccessDenied, ValidationError and InvalidParameterValue have no shape in STS's model.
"""

from __future__ import annotations


class StsError(Exception):
    """Base of every refusal of the STS service."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StsAccessDenied(StsError):
    """The caller may not do what it asked (STS answers AccessDenied, 403)."""


class AssumeRoleDenied(StsAccessDenied):
    """The caller may not perform `action` (sts:AssumeRole, sts:TagSession, ...) on the role: its identity-based
    policies or the role's trust policy do not allow it, or there is no such role (AWS does not tell which)."""

    def __init__(self, caller_arn: str, action: str, role_arn: str) -> None:
        super().__init__(f"User: {caller_arn} is not authorized to perform: {action} on resource: {role_arn}")
        self.caller_arn = caller_arn
        self.action = action
        self.role_arn = role_arn


class RootCannotAssumeRoles(StsAccessDenied):
    def __init__(self) -> None:
        super().__init__("Roles may not be assumed by root accounts.")


class SessionCredentialsRefused(StsAccessDenied):
    """Temporary credentials may not call `operation` (GetSessionToken from any session; every STS operation but
    AssumeRole and GetCallerIdentity from a GetSessionToken session, as AWS documents). The wording is the one AWS
    sends for GetSessionToken; reasoned alike for the other operations."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"Cannot call {operation} with session credentials")
        self.operation = operation


class MfaFailed(StsAccessDenied):
    """An MFA serial number or code that no MFA device of the caller's matches (AWS's wording for a device that is
    not the caller's; pullcache has no MFA devices, so every one fails)."""

    def __init__(self) -> None:
        super().__init__(
            "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is "
            "valid and associated with this user."
        )


class StsValidationError(StsError):
    """A value the model admits but STS cannot use (STS answers ValidationError, as for model violations)."""

    @classmethod
    def invalid_arn(cls, arn: str) -> StsValidationError:
        return cls(f"{arn} is invalid")


DURATION_EXCEEDS_MAX_SESSION = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
DURATION_EXCEEDS_ROLE_CHAINING = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)


class InvalidParameterValue(StsError):
    pass


DUPLICATE_TAG_KEYS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
TRANSITIVE_KEY_NOT_TAGGED = "The specified transitive tag key must be included in the requested tags."


class DecodeDenied(StsAccessDenied):
    """The caller's policies do not allow sts:DecodeAuthorizationMessage (AWS's wording for an action that names no
    resource; reasoned)."""

    def __init__(self, caller_arn: str, action: str) -> None:
        super().__init__(
            f"User: {caller_arn} is not authorized to perform: {action} because no identity-based policy allows the "
            f"{action} action"
        )


class InvalidAuthorizationMessage(StsError):
    """Not an encoded authorization message of this server's (none issues any: see sts/service.py). The wording is
    pullcache's own (reasoned: AWS documents the error, not its message)."""

    def __init__(self) -> None:
        super().__init__("The encoded message is not an authorization message this server issued.")


class PackedPolicyTooLarge(StsError):
    def __init__(self, percent: int) -> None:
        super().__init__(f"Packed policy consumes {percent}% of allotted space")
        self.percent = percent
