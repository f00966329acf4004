"""Why a SigV4-signed request was refused, as facts, and the one table of what AWS answers for each.

AuthError
├── MissingAuthentication     neither an Authorization header nor an X-Amz-Algorithm query parameter
├── IncompleteSignature       signature parameters missing or malformed; the message names what
├── InvalidSignature          well formed, but refused: credential scope, unsigned host, header and query both
│   ├── SignatureMismatch     the signature calculated here differs from the one sent
│   ├── PayloadHashMismatch   x-amz-content-sha256 is not the sha256 of the body
│   └── RequestTimeTooSkewed  the request time is more than 15 minutes from now
├── PresignedUrlExpired       X-Amz-Date + X-Amz-Expires has passed
├── UnknownAccessKey          no such access key id (raised by the caller's key lookup)
├── InvalidSecurityToken      the session token is unknown, or not the access key's
└── ExpiredSecurityToken      the session token has expired

The messages are the texts AWS sends; AUTH_ERROR_TABLE gives the code and status per protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SIGNATURE_MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid"


class AuthError(Exception):
    """Base of every reason a request's signature or credentials are refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingAuthentication(AuthError):
    def __init__(self) -> None:
        super().__init__("Request is missing Authentication Token")


class IncompleteSignature(AuthError):
    pass


class InvalidSignature(AuthError):
    pass


class SignatureMismatch(InvalidSignature):
    """AWS shows the client what it signed against, so the canonical request and string to sign are in the message."""

    def __init__(self, canonical_request: str, string_to_sign: str) -> None:
        super().__init__(
            f"{SIGNATURE_MISMATCH_MESSAGE}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
        self.canonical_request = canonical_request
        self.string_to_sign = string_to_sign


class PayloadHashMismatch(InvalidSignature):
    def __init__(self, claimed: str, computed: str) -> None:
        super().__init__("The provided 'x-amz-content-sha256' header does not match what was computed.")
        self.claimed = claimed
        self.computed = computed


class RequestTimeTooSkewed(InvalidSignature):
    """The request time lies outside `now ± limit`."""

    def __init__(self, request_time: datetime, now: datetime, limit: timedelta) -> None:
        minutes = int(limit.total_seconds() // 60)
        if request_time < now:
            message = (
                f"Signature expired: {_stamp(request_time)} is now earlier than {_stamp(now - limit)} "
                f"({_stamp(now)} - {minutes} min.)"
            )
        else:
            message = (
                f"Signature not yet current: {_stamp(request_time)} is still later than {_stamp(now + limit)} "
                f"({_stamp(now)} + {minutes} min.)"
            )
        super().__init__(message)
        self.request_time = request_time
        self.now = now
        self.limit = limit


class PresignedUrlExpired(AuthError):
    def __init__(self, request_time: datetime, expires: timedelta, now: datetime) -> None:
        super().__init__("Request has expired.")
        self.request_time = request_time
        self.expires = expires
        self.now = now


class UnknownAccessKey(AuthError):
    def __init__(self, access_key_id: str) -> None:
        super().__init__(f"{INVALID_TOKEN_MESSAGE}.")
        self.access_key_id = access_key_id


class InvalidSecurityToken(AuthError):
    # AWS ends this text without the full stop it puts after the unknown-access-key one.
    def __init__(self) -> None:
        super().__init__(INVALID_TOKEN_MESSAGE)


class ExpiredSecurityToken(AuthError):
    def __init__(self) -> None:
        super().__init__("The security token included in the request is expired")


def _stamp(moment: datetime) -> str:
    return moment.strftime(AMZ_DATE_FORMAT)


class AwsProtocol(StrEnum):
    JSON = "json"  # awsJson1_1: ECR, Secrets Manager
    QUERY = "query"  # awsQuery: IAM, STS


@dataclass(frozen=True, slots=True)
class AwsErrorSpec:
    """What the wire shows: `message` None in the table means the error's own message."""

    http_status: int
    error_code: str
    message: str | None = None


JSON, QUERY = AwsProtocol.JSON, AwsProtocol.QUERY

# Looked up along the exception's class hierarchy, most specific first. Every Query error is a Sender fault.
AUTH_ERROR_TABLE: dict[tuple[type[AuthError], AwsProtocol], AwsErrorSpec] = {
    (MissingAuthentication, JSON): AwsErrorSpec(
        400, "MissingAuthenticationTokenException", "Missing Authentication Token"
    ),
    (MissingAuthentication, QUERY): AwsErrorSpec(403, "MissingAuthenticationToken"),
    (IncompleteSignature, JSON): AwsErrorSpec(400, "IncompleteSignatureException"),
    (IncompleteSignature, QUERY): AwsErrorSpec(400, "IncompleteSignature"),
    (InvalidSignature, JSON): AwsErrorSpec(400, "InvalidSignatureException"),
    (InvalidSignature, QUERY): AwsErrorSpec(403, "SignatureDoesNotMatch"),
    (PresignedUrlExpired, JSON): AwsErrorSpec(400, "RequestExpired"),
    (PresignedUrlExpired, QUERY): AwsErrorSpec(400, "RequestExpired"),
    (UnknownAccessKey, JSON): AwsErrorSpec(400, "UnrecognizedClientException"),
    (UnknownAccessKey, QUERY): AwsErrorSpec(403, "InvalidClientTokenId"),
    (InvalidSecurityToken, JSON): AwsErrorSpec(400, "UnrecognizedClientException"),
    (InvalidSecurityToken, QUERY): AwsErrorSpec(403, "InvalidClientTokenId"),
    (ExpiredSecurityToken, JSON): AwsErrorSpec(400, "ExpiredTokenException"),
    (ExpiredSecurityToken, QUERY): AwsErrorSpec(403, "ExpiredToken"),
}


def aws_error_for(error: AuthError, protocol: AwsProtocol) -> AwsErrorSpec:
    """The status, code and message `protocol` answers `error` with; raises KeyError for an unmapped class."""
    for cls in type(error).__mro__:
        found = AUTH_ERROR_TABLE.get((cls, protocol))
        if found is not None:
            return found if found.message is not None else replace(found, message=error.message)
    raise KeyError((type(error), protocol))
