"""What the Secrets Manager service needs from storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pullcache.secrets.model import Secret, SecretVersion


class SecretStore(Protocol):
    async def add_secret(self, secret: Secret, version: SecretVersion | None) -> None:
        """Raises SecretExists when the account already has a secret of that name in that region."""
        ...

    async def find_secret(self, account: str, region: str, name: str | None, arn: str | None) -> Secret | None:
        """The secret of that name, or of that ARN, in the account and region."""
        ...

    async def list_secrets(self, account: str, region: str) -> Sequence[Secret]:
        """Every secret of the account in the region, by creation time."""
        ...

    async def list_versions(self, arn: str) -> Sequence[SecretVersion]: ...

    async def add_version(self, secret: Secret, version: SecretVersion, stages: Mapping[str, tuple[str, ...]]) -> None:
        """Store `version`, give the other versions the stages `stages` names, and save `secret`'s fields."""
        ...

    async def move_stages(self, secret: Secret, stages: Mapping[str, tuple[str, ...]]) -> None:
        """Give the versions `stages` names their new stages, and save `secret`'s fields, in one transaction."""
        ...

    async def update_secret(self, secret: Secret) -> None:
        """Save the description, tags, resource policy, change time and deletion fields of `secret`."""
        ...

    async def delete_secret(self, arn: str) -> None:
        """Remove the secret and its versions for good."""
        ...


class KeyStore(Protocol):
    async def ensure_signing_key(self, name: str, candidate: str) -> str:
        """The stored key of that name, storing `candidate` when there is none."""
        ...
