"""Several CredentialStores as one: each is asked in turn, the first that knows the key answers.

CredentialChain(SqlAccountStore(engine), SessionCredentialStore(sessions))   long-term keys, then sessions
"""

from __future__ import annotations

from pullcache.auth.ports import Credentials, CredentialStore


class CredentialChain:
    def __init__(self, *stores: CredentialStore) -> None:
        self._stores = stores

    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        for store in self._stores:
            found = await store.find_credentials(access_key_id)
            if found is not None:
                return found
        return None
