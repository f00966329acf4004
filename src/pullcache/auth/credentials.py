"""Access keys and the principals they sign for.

Access key ids have AWS's form: a four-letter prefix telling what they are (`AKIA` long-term, `ASIA` temporary)
and sixteen upper-case letters and digits; secrets are forty characters of base64's alphabet.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pullcache.policy import RequestPrincipal

LONG_TERM_PREFIX = "AKIA"
TEMPORARY_PREFIX = "ASIA"
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
ACTIVE = "Active"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A key pair and whom it signs for. Temporary credentials carry their session token and expiry."""

    access_key_id: str
    secret_access_key: str
    principal: RequestPrincipal
    active: bool = True
    session_token: str | None = None
    expires_at: datetime | None = None


class CredentialStore(Protocol):
    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        """The credentials of `access_key_id`, or None when no such key exists."""
        ...


def new_access_key_id(prefix: str = LONG_TERM_PREFIX) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
