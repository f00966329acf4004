"""What the pull-through cache needs from the outside world, as small Protocols, and the values they carry.

PullThroughRuleStore    rules per registry scope, and the imports in flight (what keeps the role in use)
UpstreamRegistry        the OCI distribution API of an upstream registry (upstream.py implements it)
ServiceLinkedRoles      the AWSServiceRoleForECRPullThroughCache role of an account (IAM implements it)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.iam.model import Role
from pullcache.pullthrough.rules import PullThroughRule


class PullThroughRuleStore(Protocol):
    """Every method is one transaction."""

    async def add_rule(self, rule: PullThroughRule) -> bool:
        """Store a new rule; False (and nothing stored) when the scope has one with that prefix."""
        ...

    async def find_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None: ...

    async def list_rules(self, scope: RegistryScope) -> Sequence[PullThroughRule]:
        """The scope's rules in order of prefix."""
        ...

    async def list_account_rules(self, account_id: str) -> Sequence[PullThroughRule]:
        """The account's rules in every region, in order of region, then prefix."""
        ...

    async def replace_rule(self, rule: PullThroughRule) -> bool:
        """Overwrite the rule of `rule.scope` and `rule.prefix`; False when there is none."""
        ...

    async def delete_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        """Delete and return the rule, or None when there is none."""
        ...

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str:
        """Record an import in flight (the service-linked role is in use until it ends); returns its id."""
        ...

    async def end_import(self, import_id: str) -> None:
        """Idempotent."""
        ...

    async def count_imports_since(self, account_id: str, since: datetime) -> int:
        """Imports of the account still in flight that started after `since` (older ones died with a process)."""
        ...


# -- the upstream ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamCredentials:
    username: str
    access_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class UpstreamEndpoint:
    """An upstream registry: `base_url` is `scheme://host[:port]` without a trailing slash."""

    base_url: str
    credentials: UpstreamCredentials | None = None


@dataclass(frozen=True, slots=True)
class UpstreamManifest:
    """A manifest as the upstream served it; `digest` is of `content` (verified against what was asked)."""

    digest: Digest
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class UpstreamManifestHead:
    digest: Digest
    media_type: str
    size: int


class UpstreamBlob(Protocol):
    """A blob response in flight: its size and its bytes, read once."""

    @property
    def size(self) -> int: ...

    def chunks(self) -> AsyncIterator[bytes]: ...


class UpstreamRegistry(Protocol):
    """The OCI distribution API of upstream registries, with their authentication handshakes.

    Raises the errors of pullthrough/errors.py: UpstreamNotFound, UpstreamDenied, UpstreamUnavailable (after
    its retries), UpstreamInvalid.
    """

    async def check(self, endpoint: UpstreamEndpoint, repository: str | None = None) -> None:
        """Authenticate with the upstream (for `repository` when given) and raise unless it answers."""
        ...

    async def head_manifest(
        self, endpoint: UpstreamEndpoint, repository: str, reference: str
    ) -> UpstreamManifestHead: ...

    async def get_manifest(self, endpoint: UpstreamEndpoint, repository: str, reference: str) -> UpstreamManifest: ...

    def open_blob(
        self, endpoint: UpstreamEndpoint, repository: str, digest: Digest
    ) -> AbstractAsyncContextManager[UpstreamBlob]: ...


# -- the service-linked role ----------------------------------------------------------------------------------


class ServiceLinkedRoles(Protocol):
    async def find_role(self, account_id: str) -> Role | None:
        """The account's AWSServiceRoleForECRPullThroughCache, or None when it does not exist."""
        ...

    async def ensure_role(self, account_id: str) -> Role:
        """The role, created as IAM creates a service-linked role when it does not exist yet."""
        ...

    async def record_use(self, role: Role, at: datetime, region: str) -> None:
        """RoleLastUsed."""
        ...
