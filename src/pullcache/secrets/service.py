"""The Secrets Manager subset pullcache serves: secrets per account and region, versions moved by staging labels,
tags, and resource policies.

Every call names the account and region of the secret (the caller's, or the account of a full ARN: access across
accounts is the resource policy's to allow, secrets/api/operations.py); `secret_id` is a secret's name or its ARN.
A secret marked for deletion refuses every change but restoring and deleting it (InvalidRequestException).
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pullcache.secrets.cipher import SecretCipher
from pullcache.secrets.errors import (
    MARKED_FOR_DELETION,
    InvalidSecretParameter,
    InvalidSecretRequest,
    PublicPolicy,
    SecretExists,
    SecretNotFound,
)
from pullcache.secrets.model import CURRENT, PREVIOUS, Secret, SecretValue, SecretVersion, Tag
from pullcache.secrets.ports import SecretStore
from pullcache.secrets.resource_policies import BROAD_ACCESS, grants_broad_access, parse_secret_policy
from pullcache.secrets.stages import moved_stages

DEFAULT_RECOVERY_DAYS = 30
RECOVERY_DAYS = range(7, 31)
SUFFIX_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Place:
    """Where a secret lives: an account and a region."""

    account: str
    region: str

    def arn(self, name: str, suffix: str) -> str:
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{name}-{suffix}"


@dataclass(frozen=True, slots=True)
class VersionValue:
    """A version and its plain value, as GetSecretValue answers it."""

    secret: Secret
    version: SecretVersion
    value: SecretValue


@dataclass(frozen=True, slots=True)
class Written:
    """The secret a call wrote to, and the version it created (or found, for a repeated request)."""

    secret: Secret
    version_id: str | None
    stages: tuple[str, ...] = ()


class SecretsService:
    def __init__(
        self, store: SecretStore, cipher: SecretCipher, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._cipher = cipher
        self._clock = clock

    async def find_secret(self, place: Place, secret_id: str) -> Secret | None:
        """None also when the secret's recovery window is over (it is then removed for good)."""
        if secret_id.startswith("arn:"):
            secret = await self._store.find_secret(place.account, place.region, None, secret_id)
        else:
            secret = await self._store.find_secret(place.account, place.region, secret_id, None)
        if secret is not None and secret.deletion_date is not None and secret.deletion_date <= self._clock():
            await self._store.delete_secret(secret.arn)
            return None
        return secret

    async def get_secret(self, place: Place, secret_id: str) -> Secret:
        secret = await self.find_secret(place, secret_id)
        if secret is None:
            raise SecretNotFound()
        return secret

    async def create_secret(
        self,
        place: Place,
        name: str,
        value: SecretValue | None,
        description: str | None = None,
        tags: Sequence[Tag] = (),
        token: str | None = None,
    ) -> Written:
        """Raises SecretExists, InvalidSecretRequest (the name waits for deletion), InvalidSecretParameter."""
        existing = await self.find_secret(place, name)
        if existing is not None:
            if existing.deleted_at is not None:
                raise InvalidSecretRequest(
                    "You can't create this secret because a secret with this name is already scheduled for deletion."
                )
            if value is not None and token is not None and await self._same_version(existing, token, value):
                return Written(existing, token, await self._stages_of(existing, token))
            raise SecretExists(f"The operation failed because the secret {name} already exists.")
        now = self._clock()
        arn = place.arn(name, "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(6)))
        secret = Secret(arn, place.account, place.region, name, description, tuple(tags), now, now)
        version = None
        if value is not None:
            version_id = token or str(uuid.uuid4())
            version = SecretVersion(version_id, self._cipher.seal(value, arn, version_id), (CURRENT,), now)
        await self._store.add_secret(secret, version)
        return Written(secret, None if version is None else version.version_id, (CURRENT,) if version else ())

    async def get_secret_value(
        self, place: Place, secret_id: str, version_id: str | None = None, stage: str | None = None
    ) -> VersionValue:
        """The version of that id and/or stage (AWSCURRENT when neither is given). Raises SecretNotFound,
        InvalidSecretRequest (the secret waits for deletion)."""
        secret = self._live(await self.get_secret(place, secret_id))
        wanted_stage = stage if stage is not None or version_id is not None else CURRENT
        for version in await self._store.list_versions(secret.arn):
            if version_id is not None and version.version_id != version_id:
                continue
            if wanted_stage is not None and wanted_stage not in version.stages:
                continue
            return VersionValue(secret, version, self._cipher.open(version.sealed, secret.arn, version.version_id))
        if version_id is not None:
            raise SecretNotFound(f"Secrets Manager can't find the specified secret value for VersionId: {version_id}")
        raise SecretNotFound(f"Secrets Manager can't find the specified secret value for staging label: {wanted_stage}")

    async def put_secret_value(
        self,
        place: Place,
        secret_id: str,
        value: SecretValue,
        token: str | None = None,
        stages: Sequence[str] | None = None,
    ) -> Written:
        """A new version carrying `stages` (AWSCURRENT by default); the version that was current becomes
        AWSPREVIOUS. Repeating a request (same token, same value) changes nothing. Raises SecretNotFound,
        InvalidSecretRequest, SecretExists (same token, another value)."""
        secret = self._live(await self.get_secret(place, secret_id))
        return await self._new_version(secret, value, token, tuple(stages) if stages else (CURRENT,), None)

    async def update_secret(
        self,
        place: Place,
        secret_id: str,
        description: str | None = None,
        value: SecretValue | None = None,
        token: str | None = None,
    ) -> Written:
        """Changes the description and/or makes `value` the current version. Raises as put_secret_value does."""
        secret = self._live(await self.get_secret(place, secret_id))
        if value is not None:
            return await self._new_version(secret, value, token, (CURRENT,), description)
        if description is not None:
            secret = replace(secret, description=description, last_changed_at=self._clock())
            await self._store.update_secret(secret)
        return Written(secret, None)

    async def list_secrets(self, place: Place, include_planned_deletion: bool = False) -> Sequence[Secret]:
        listed = []
        for secret in await self._store.list_secrets(place.account, place.region):
            if secret.deletion_date is not None and secret.deletion_date <= self._clock():
                await self._store.delete_secret(secret.arn)
            elif secret.deleted_at is None or include_planned_deletion:
                listed.append(secret)
        return listed

    async def list_versions(self, secret: Secret) -> Sequence[SecretVersion]:
        return await self._store.list_versions(secret.arn)

    async def tag_secret(self, place: Place, secret_id: str, tags: Sequence[Tag]) -> Secret:
        """Adds `tags`, replacing the values of keys the secret has. Raises SecretNotFound, InvalidSecretRequest."""
        secret = self._live(await self.get_secret(place, secret_id))
        added = {tag.key: tag for tag in tags}
        kept = tuple(tag for tag in secret.tags if tag.key not in added)
        return await self._save(replace(secret, tags=(*kept, *added.values())))

    async def untag_secret(self, place: Place, secret_id: str, keys: Sequence[str]) -> Secret:
        """Removes the tags of `keys` (keys the secret lacks are ignored). Raises as tag_secret does."""
        secret = self._live(await self.get_secret(place, secret_id))
        return await self._save(replace(secret, tags=tuple(tag for tag in secret.tags if tag.key not in keys)))

    async def list_version_ids(
        self, place: Place, secret_id: str, include_deprecated: bool = False
    ) -> tuple[Secret, list[SecretVersion]]:
        """The secret's versions, newest first; deprecated ones (no staging label) only when asked for.
        Raises SecretNotFound."""
        secret = await self.get_secret(place, secret_id)
        versions = [v for v in await self._store.list_versions(secret.arn) if v.stages or include_deprecated]
        return secret, sorted(versions, key=lambda version: version.created_at, reverse=True)

    async def update_version_stage(
        self, place: Place, secret_id: str, stage: str, remove_from: str | None, move_to: str | None
    ) -> Secret:
        """Moves or removes the staging label `stage` (secrets/stages.py). Raises SecretNotFound,
        InvalidSecretRequest, InvalidSecretParameter."""
        secret = self._live(await self.get_secret(place, secret_id))
        moved = moved_stages(await self._store.list_versions(secret.arn), stage, remove_from, move_to)
        secret = replace(secret, last_changed_at=self._clock())
        await self._store.move_stages(secret, moved)
        return secret

    async def put_resource_policy(self, place: Place, secret_id: str, text: str, block_public: bool) -> Secret:
        """Raises SecretNotFound, InvalidSecretRequest, MalformedPolicyDocument, PublicPolicy (`block_public` and a
        policy that grants broad access)."""
        secret = self._live(await self.get_secret(place, secret_id))
        document = parse_secret_policy(text)
        if block_public and grants_broad_access(document):
            raise PublicPolicy(BROAD_ACCESS)
        return await self._save(replace(secret, resource_policy=text))

    async def delete_resource_policy(self, place: Place, secret_id: str) -> Secret:
        """Raises SecretNotFound, InvalidSecretRequest."""
        secret = self._live(await self.get_secret(place, secret_id))
        return await self._save(replace(secret, resource_policy=None))

    async def delete_secret(
        self, place: Place, secret_id: str, recovery_days: int | None = None, force: bool = False
    ) -> tuple[Secret, datetime]:
        """The secret and the date it is (or was) deleted. Raises SecretNotFound, InvalidSecretParameter,
        InvalidSecretRequest (already scheduled, unless forced)."""
        if force and recovery_days is not None:
            raise InvalidSecretParameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        if recovery_days is not None and recovery_days not in RECOVERY_DAYS:
            raise InvalidSecretParameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
        secret = await self.get_secret(place, secret_id)
        now = self._clock()
        if force:
            await self._store.delete_secret(secret.arn)
            return secret, now
        self._live(secret)
        deletion = now + timedelta(days=recovery_days or DEFAULT_RECOVERY_DAYS)
        secret = replace(secret, deleted_at=now, deletion_date=deletion)
        await self._store.update_secret(secret)
        return secret, deletion

    async def restore_secret(self, place: Place, secret_id: str) -> Secret:
        """Cancels a scheduled deletion; a secret not scheduled for deletion stays as it is."""
        secret = await self.get_secret(place, secret_id)
        if secret.deleted_at is not None:
            secret = replace(secret, deleted_at=None, deletion_date=None)
            await self._store.update_secret(secret)
        return secret

    async def _new_version(
        self, secret: Secret, value: SecretValue, token: str | None, stages: tuple[str, ...], description: str | None
    ) -> Written:
        versions = await self._store.list_versions(secret.arn)
        if token is not None:
            for version in versions:
                if version.version_id == token:
                    if self._cipher.open(version.sealed, secret.arn, token) != value:
                        raise SecretExists("You can't modify an existing version, you can only create a new version.")
                    return Written(secret, token, version.stages)
        version_id = token or str(uuid.uuid4())
        now = self._clock()
        moved: dict[str, tuple[str, ...]] = {}
        for version in versions:
            kept = tuple(stage for stage in version.stages if stage not in stages and stage != PREVIOUS)
            # AWSPREVIOUS goes to the version that loses AWSCURRENT, and stays put when AWSCURRENT does.
            moves_current = CURRENT in stages
            if (CURRENT if moves_current else PREVIOUS) in version.stages:
                kept = (*kept, PREVIOUS)
            if kept != version.stages:
                moved[version.version_id] = kept
        secret = replace(
            secret, description=secret.description if description is None else description, last_changed_at=now
        )
        version = SecretVersion(version_id, self._cipher.seal(value, secret.arn, version_id), stages, now)
        await self._store.add_version(secret, version, moved)
        return Written(secret, version_id, stages)

    async def _same_version(self, secret: Secret, version_id: str, value: SecretValue) -> bool:
        for version in await self._store.list_versions(secret.arn):
            if version.version_id == version_id:
                return self._cipher.open(version.sealed, secret.arn, version_id) == value
        return False

    async def _stages_of(self, secret: Secret, version_id: str) -> tuple[str, ...]:
        for version in await self._store.list_versions(secret.arn):
            if version.version_id == version_id:
                return version.stages
        return ()

    async def _save(self, secret: Secret) -> Secret:
        secret = replace(secret, last_changed_at=self._clock())
        await self._store.update_secret(secret)
        return secret

    @staticmethod
    def _live(secret: Secret) -> Secret:
        if secret.deleted_at is not None:
            raise InvalidSecretRequest(MARKED_FOR_DELETION)
        return secret
