"""What the auth package needs from elsewhere, and the values those ports pass.

AccountStore        accounts and their root keys, for the first start and `pullcache accounts create`
CredentialStore     access keys and whom they sign for: long-term keys (SQL), temporary ones (STS's sessions)
SigningKeyStore     the server's HMAC keys, shared by every worker (registry tokens, download grants)
PrincipalPolicies   what IAM knows about a caller: its identity-based policies, boundary and session policies
RepositoryPolicies  what ECR keeps of a registry's resource policies: repository policies, the registry policy
RepositoriesToBe    the repository policy a repository the server creates on first pull will carry
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pullcache.core.scopes import RegistryScope
from pullcache.policy import RequestPrincipal, SourcedPolicy

ACTIVE = "Active"  # the status of an access key that signs requests


# -- accounts and keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RootKey:
    access_key_id: str
    secret_access_key: str


class AccountStore(Protocol):
    async def ensure_account(self, account_id: str) -> None: ...

    async def find_root_key(self, account_id: str) -> RootKey | None: ...

    async def add_root_key(self, account_id: str, key: RootKey) -> None: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    """A key pair and whom it signs for. Temporary credentials carry their session token and expiry."""

    access_key_id: str
    secret_access_key: str
    principal: RequestPrincipal
    active: bool = True
    session_token: str | None = None
    expires_at: datetime | None = None
    issued_at: datetime | None = None  # when temporary credentials were issued: their session's creation


class CredentialStore(Protocol):
    async def find_credentials(self, access_key_id: str) -> Credentials | None:
        """The credentials of `access_key_id`, or None when no such key exists."""
        ...


class SigningKeyStore(Protocol):
    async def ensure_signing_key(self, name: str, candidate: str) -> str:
        """The secret stored under `name`, storing `candidate` first when there is none (idempotent, race-free)."""
        ...


# -- policies -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrincipalPolicySet:
    identity: Sequence[SourcedPolicy] = ()
    permissions_boundary: SourcedPolicy | None = None
    session_policies: Sequence[SourcedPolicy] | None = None  # a role session's; None when it was given none


class PrincipalPolicies(Protocol):
    async def policies_for(self, principal: RequestPrincipal) -> PrincipalPolicySet:
        """The identity-based policies (inline, attached, through groups), boundary and session policies of
        `principal`."""
        ...


class RepositoryPolicies(Protocol):
    async def find_repository_policy(self, scope: RegistryScope, repository: str) -> str | None:
        """The repository policy's text, or None when the repository has none (or does not exist)."""
        ...

    async def find_registry_policy(self, scope: RegistryScope) -> str | None:
        """The registry policy's text, or None."""
        ...


class RepositoriesToBe(Protocol):
    async def policy_to_be(self, scope: RegistryScope, repository: str) -> str | None:
        """The repository policy `repository` will carry once the server creates it for the pull asking (a
        pull-through cache's first pull); None when it exists, will not be created so, or will have no policy."""
        ...
