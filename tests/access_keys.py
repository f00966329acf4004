"""Access keys in memory: the CredentialStore that registry-token checks ask, with keys to turn off and remove."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pullcache.auth.ports import Credentials
from pullcache.policy import RequestPrincipal


class AccessKeys:
    def __init__(self) -> None:
        self._keys: dict[str, Credentials] = {}
        self.lookups = 0

    def add(self, key_id: str, principal: RequestPrincipal, expires_at: datetime | None = None) -> str:
        self._keys[key_id] = Credentials(key_id, "secret", principal, expires_at=expires_at)
        return key_id

    def deactivate(self, key_id: str) -> None:
        self._keys[key_id] = replace(self._keys[key_id], active=False)

    def delete(self, key_id: str) -> None:
        del self._keys[key_id]

    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        self.lookups += 1
        return self._keys.get(access_key_id)
