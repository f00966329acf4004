"""Secret values at rest: AES-256-GCM under a key of the server's, bound to the secret and version they belong to.

    sealed = nonce (12 bytes) || AES-GCM(key, nonce, kind || value, associated data = "<arn> <version id>")

`kind` is b"s" for a SecretString (UTF-8) and b"b" for a SecretBinary.
"""

from __future__ import annotations

import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pullcache.secrets.model import SecretValue
from pullcache.secrets.ports import KeyStore

KEY_NAME = "secrets-manager"
NONCE_BYTES = 12


class SecretCipher:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    async def load(cls, keys: KeyStore) -> SecretCipher:
        """The cipher under the server's key, created on first use and shared by every worker."""
        stored = await keys.ensure_signing_key(KEY_NAME, secrets.token_hex(32))
        return cls(bytes.fromhex(stored))

    def seal(self, value: SecretValue, arn: str, version_id: str) -> bytes:
        plain = b"s" + value.string.encode() if value.string is not None else b"b" + (value.binary or b"")
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, _bound(arn, version_id))

    def open(self, sealed: bytes, arn: str, version_id: str) -> SecretValue:
        """Raises cryptography's InvalidTag when `sealed` was not sealed for this secret and version."""
        plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _bound(arn, version_id))
        if plain[:1] == b"s":
            return SecretValue(string=plain[1:].decode())
        return SecretValue(binary=plain[1:])


def _bound(arn: str, version_id: str) -> bytes:
    return f"{arn} {version_id}".encode()
