"""What the AWS plumbing needs from the rest of pullcache: who an access key signs for, and its secret.

The gateway checks a signature with a key's secret and hands the handlers whom the key signs for. What that
principal is, the plumbing does not say (a type parameter); it asks of it only the account it belongs to. Who
counts the signatures refused (the metrics adapter) is a GatewayObserver.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol, TypeVar

PrincipalT_co = TypeVar("PrincipalT_co", covariant=True)


class Caller(Protocol):
    """A principal as the plumbing sees it."""

    @property
    def account(self) -> str | None:
        """The account the caller belongs to; None for an anonymous one."""
        ...


class SigningCredentials(Protocol[PrincipalT_co]):
    """An access key's secret and whom it signs for. Temporary credentials carry their session token and
    expiry."""

    @property
    def secret_access_key(self) -> str: ...

    @property
    def principal(self) -> PrincipalT_co: ...

    @property
    def active(self) -> bool: ...

    @property
    def session_token(self) -> str | None: ...

    @property
    def expires_at(self) -> datetime | None: ...

    @property
    def issued_at(self) -> datetime | None:
        """When temporary credentials were issued (their session's creation); None for long-term keys."""
        ...


class CredentialLookup(Protocol[PrincipalT_co]):
    async def find_credentials(self, access_key_id: str) -> SigningCredentials[PrincipalT_co] | None:
        """The credentials of `access_key_id`, or None when no such key exists."""
        ...


class GatewayObserver(Protocol):
    def signature_refused(self, reason: str) -> None:
        """A request refused before any service saw it; `reason`: the AuthError's name (auth_errors.py), one of
        a dozen (SignatureMismatch, UnknownAccessKey, RequestTimeTooSkewed, ...)."""
        ...


class Unobserved:
    """Counts nothing."""

    def signature_refused(self, reason: str) -> None:
        pass


UNOBSERVED: Final = Unobserved()
