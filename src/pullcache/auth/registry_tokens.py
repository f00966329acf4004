"""Registry tokens and download grants: signed, self-contained credentials for /v2/.

GetAuthorizationToken hands out a registry token; clients send it as `Authorization: Basic base64(AWS:<token>)`.
GetDownloadUrlForLayer hands out a download grant: a URL that fetches one blob of one repository for a short
while, whoever presents it. Both are signed with HMAC-SHA256 under a key of the server's (created on first
start, shared by every worker through the database) and carry everything needed to check them, so a worker
verifies one without a database round trip:

    <purpose>.<payload: base64url of compact JSON>.<signature: base64url of HMAC-SHA256(key, purpose.payload)>

The purpose (`r1` registry token, `d1` download grant) is signed too, so neither passes for the other.

A registry token stands for the credentials that obtained it (ECR: "an authorization token represents your IAM
authentication credentials"), so it lasts no longer than they do: it expires after 12 hours or when those
credentials expire (an STS session), whichever comes first, and it names the access key that obtained it, so
that the registry can refuse it once that key is made inactive or deleted (auth/registry_access.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pullcache.auth.ports import SigningKeyStore
from pullcache.core.scopes import RegistryScope
from pullcache.policy import PrincipalType, RequestPrincipal

# ECR's authorization tokens are valid for 12 hours; its layer download URLs for a short while.
TOKEN_LIFETIME = timedelta(hours=12)
DOWNLOAD_LIFETIME = timedelta(hours=1)
USERNAME = "AWS"  # the user name every ECR token goes with
SIGNING_KEY_NAME = "registry-tokens"
_TOKEN = "r1"
_DOWNLOAD = "d1"


class InvalidRegistryToken(ValueError):
    """The token is malformed, or not signed by this server's key."""


class ExpiredRegistryToken(InvalidRegistryToken):
    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"the token expired at {expired_at.isoformat()}")
        self.expired_at = expired_at


class RevokedRegistryToken(InvalidRegistryToken):
    """The access key that obtained the token is inactive, deleted, or its session is over."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a registry token says: the principal it was issued to, and the access key that obtained it (None in
    tokens issued before tokens named their key)."""

    principal: RequestPrincipal
    access_key_id: str | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DownloadGrant:
    """Permission to read one blob of one repository until `expires_at`."""

    scope: RegistryScope
    repository: str
    digest: str
    expires_at: datetime


async def load_registry_tokens(store: SigningKeyStore) -> RegistryTokens:
    """The server's token signer, its key created on the first start."""
    return RegistryTokens((await store.ensure_signing_key(SIGNING_KEY_NAME, secrets.token_urlsafe(32))).encode())


class RegistryTokens:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a signing key needs at least 16 bytes")
        self._key = key

    # -- registry tokens -----------------------------------------------------------------------------------

    def issue(
        self,
        principal: RequestPrincipal,
        now: datetime,
        *,
        access_key_id: str,
        credentials_expire_at: datetime | None = None,
        lifetime: timedelta = TOKEN_LIFETIME,
    ) -> IssuedToken:
        """A token for `principal`, who signed with `access_key_id`; it expires after `lifetime` or when those
        credentials do (`credentials_expire_at`), whichever comes first."""
        expires_at = _whole_second(now + lifetime)
        if credentials_expire_at is not None:
            expires_at = min(expires_at, _whole_second(credentials_expire_at))
        payload = {
            "k": access_key_id,
            "t": str(principal.type),
            "a": principal.arn,
            "c": principal.account,
            "n": principal.user_name,
            "u": principal.user_id,
            "r": principal.role_arn,
            "e": int(expires_at.timestamp()),
        }
        if principal.session_id is not None:  # a role session: /v2/ applies its session policies too
            payload["s"] = principal.session_id
        return IssuedToken(self._sign(_TOKEN, payload), expires_at)

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """What the token says; raises InvalidRegistryToken or ExpiredRegistryToken."""
        payload = self._open(_TOKEN, token, now)
        try:
            principal = RequestPrincipal(
                PrincipalType(payload["t"]),
                str(payload["a"]),
                payload["c"],
                payload["n"],
                payload["u"],
                payload["r"],
                payload.get("s"),
            )
        except (KeyError, ValueError):
            raise InvalidRegistryToken("the token does not name a principal") from None
        key = payload.get("k")
        return TokenClaims(principal, key if isinstance(key, str) else None)

    # -- download grants -----------------------------------------------------------------------------------

    def grant_download(
        self,
        scope: RegistryScope,
        repository: str,
        digest: str,
        now: datetime,
        lifetime: timedelta = DOWNLOAD_LIFETIME,
    ) -> str:
        expires_at = _whole_second(now + lifetime)
        payload = {
            "c": scope.account_id,
            "g": scope.region,
            "p": repository,
            "d": digest,
            "e": int(expires_at.timestamp()),
        }
        return self._sign(_DOWNLOAD, payload)

    def verify_download(self, grant: str, now: datetime) -> DownloadGrant:
        """What the grant allows; raises InvalidRegistryToken or ExpiredRegistryToken."""
        payload = self._open(_DOWNLOAD, grant, now)
        try:
            return DownloadGrant(
                RegistryScope(str(payload["c"]), str(payload["g"])),
                str(payload["p"]),
                str(payload["d"]),
                datetime.fromtimestamp(payload["e"], UTC),
            )
        except (KeyError, ValueError, TypeError):
            raise InvalidRegistryToken("the grant does not name a blob") from None

    # -- signing -------------------------------------------------------------------------------------------

    def _sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{purpose}.{body}.{self._signature(purpose, body)}"

    def _open(self, purpose: str, token: str, now: datetime) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != purpose:
            raise InvalidRegistryToken("not a token of this kind")
        _, body, signature = parts
        if not hmac.compare_digest(signature, self._signature(purpose, body)):
            raise InvalidRegistryToken("the signature does not match")
        try:
            payload = json.loads(_decode(body))
            expires_at = datetime.fromtimestamp(payload["e"], UTC)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidRegistryToken("the payload cannot be read") from None
        if not isinstance(payload, dict):
            raise InvalidRegistryToken("the payload cannot be read")
        if expires_at <= now:
            raise ExpiredRegistryToken(expires_at)
        return payload

    def _signature(self, purpose: str, body: str) -> str:
        return _encode(hmac.new(self._key, f"{purpose}.{body}".encode(), hashlib.sha256).digest())


def basic_credentials(token: str) -> str:
    """What GetAuthorizationToken returns as authorizationToken: base64 of `AWS:<token>`."""
    return base64.b64encode(f"{USERNAME}:{token}".encode()).decode()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)
