"""What every AWS operation handler knows about its call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pullcache.aws.ports import Caller

PrincipalT = TypeVar("PrincipalT", bound=Caller)


@dataclass(frozen=True, slots=True)
class CallContext(Generic[PrincipalT]):
    """The authenticated caller, the region from the credential scope, and facts for condition keys."""

    principal: PrincipalT
    region: str
    request_id: str
    source_ip: str
    received_at: datetime
    secure_transport: bool = False
    access_key_id: str = ""  # the key that signed the call
    credentials_expire_at: datetime | None = None  # when that key stops signing: temporary credentials expire
    credentials_issued_at: datetime | None = None  # when that key's session began (temporary credentials)
    host: str = ""  # the host (and port) the call arrived at, as its Host header names it

    @property
    def account(self) -> str:
        """The caller's account: the account whose resources an operation acts on by default."""
        assert self.principal.account is not None, "authenticated callers belong to an account"
        return self.principal.account
