"""What the pull-through cache needs from the outside world, as small Protocols, and the values they carry.

PullThroughRuleStore    rules per registry scope, and the imports in flight (what keeps the role in use)
TemplateStore           repository creation templates per registry scope
UpstreamRegistry        the OCI distribution API of an upstream registry (the upstream package implements it)
ServiceLinkedRoles      the AWSServiceRoleForECRPullThroughCache role of an account (IAM implements it)
ServiceAuthorizer       the policy engine, deciding the role's writes
RepositoryContent       what the cache reads and records of a repository (the registry's metadata store)
ManifestWriter          the registry's one write path of manifests
CachedRepositories      repositories created on first pull, as their creation templates say
RuleCredentials         a rule's upstream credentials (its Secrets Manager secret)
RegistryAuthorizer      the ECR edge's authorization of the rule and template operations
RoleActivity            what the role did, as the calls AWS records of it (the audit trail implements it)
RoleCreations           the role's creation a rule's creation implied, for its caller (the audit trail implements it)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pullcache.auth.call_context import CallContext
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.ports import RepositorySettings
from pullcache.iam.model import Role
from pullcache.policy import RequestPrincipal
from pullcache.pullthrough.model import AppliedFor, Template
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.manifest_writes import CheckedManifest
from pullcache.registry.ports import ManifestRecord
from pullcache.secrets.service import Place, VersionValue

# -- the cache's own stores -----------------------------------------------------------------------------------


class ImportLedger(Protocol):
    """The records of imports in flight (PullThroughRuleStore keeps them)."""

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str:
        """Record an import in flight (the service-linked role is in use until it ends); returns its id."""
        ...

    async def end_import(self, import_id: str) -> None:
        """Idempotent."""
        ...


class PullThroughRuleStore(ImportLedger, Protocol):
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

    async def count_imports_since(self, account_id: str, since: datetime) -> int:
        """Imports of the account still in flight that started after `since` (older ones died with a process)."""
        ...


class TemplateStore(Protocol):
    """Every method is one transaction."""

    async def add_template(self, template: Template) -> bool:
        """Store a new template; False (and nothing stored) when the scope has one with that prefix."""
        ...

    async def find_template(self, scope: RegistryScope, prefix: str) -> Template | None: ...

    async def list_templates(self, scope: RegistryScope) -> Sequence[Template]:
        """The scope's templates in order of prefix."""
        ...

    async def replace_template(self, template: Template) -> bool:
        """Overwrite the template of `template.scope` and `template.prefix`; False when there is none."""
        ...

    async def delete_template(self, scope: RegistryScope, prefix: str) -> Template | None: ...


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
    its retries, past its time bounds, or at once while the upstream is known to be failing), UpstreamInvalid.
    """

    async def check(self, endpoint: UpstreamEndpoint, repository: str | None = None) -> None:
        """Authenticate with the upstream (for `repository` when given) and raise unless it answers."""
        ...

    async def head_manifest(
        self, endpoint: UpstreamEndpoint, repository: str, reference: str, *, budget: float | None = None
    ) -> UpstreamManifestHead:
        """`budget`: seconds for the whole answer, retries included (None: the implementation's own)."""
        ...

    async def get_manifest(self, endpoint: UpstreamEndpoint, repository: str, reference: str) -> UpstreamManifest: ...

    def open_blob(
        self, endpoint: UpstreamEndpoint, repository: str, digest: Digest
    ) -> AbstractAsyncContextManager[UpstreamBlob]: ...

    async def has_blob(self, endpoint: UpstreamEndpoint, repository: str, digest: Digest) -> None:
        """Raise UpstreamNotFound unless the upstream's repository has the blob (asked without its body)."""
        ...


class RuleCredentials(Protocol):
    async def find_credentials(self, rule: PullThroughRule) -> UpstreamCredentials | None:
        """The username and access token of the rule's secret; None when the rule has none (or it is gone)."""
        ...


class SecretReader(Protocol):
    """What the rules need of Secrets Manager (SecretsService is one)."""

    async def get_secret_value(
        self, place: Place, secret_id: str, version_id: str | None = None, stage: str | None = None
    ) -> VersionValue: ...


class CredentialReader(Protocol):
    """A rule's credentials out of its secret (PullThroughRuleService is one)."""

    async def read_credentials(self, scope: RegistryScope, credential_arn: str) -> UpstreamCredentials: ...


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


class ServiceAuthorizer(Protocol):
    async def authorize_service(
        self, principal: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        """Raise Denied unless `principal` may perform every action on the repository (None: the registry)."""
        ...


# -- the registry the cache fills -----------------------------------------------------------------------------


class RepositoryContent(Protocol):
    """What the cache reads and records of a repository's content (the registry's MetadataStore is one).
    Manifests are written through ManifestWriter only."""

    async def repository_exists(self, scope: RegistryScope, repository: str) -> bool: ...

    async def find_manifest(
        self, scope: RegistryScope, repository: str, reference: Digest | str
    ) -> ManifestRecord | None: ...

    async def mark_tag_checked(self, scope: RegistryScope, repository: str, tag: str, at: datetime) -> None:
        """Remember `at` as the last time the upstream confirmed what `tag` names."""
        ...

    async def find_blob_size(self, scope: RegistryScope, repository: str, digest: Digest) -> int | None: ...

    async def link_blob(self, scope: RegistryScope, repository: str, digest: Digest, size: int) -> None:
        """Record that `digest` (committed, of `size` bytes) belongs to `repository`; idempotent."""
        ...


class ManifestWriter(Protocol):
    """The registry's write path of manifests (registry/manifest_writes.py): its limits, checks and tag rule."""

    def check(self, digest: Digest, content: bytes, content_type: str | None) -> CheckedManifest:
        """Raises ManifestTooLarge, ManifestInvalid."""
        ...

    async def store_imported(
        self, scope: RegistryScope, repository: str, manifest: CheckedManifest, tag: str | None, *, cached: bool
    ) -> Digest | None:
        """Store and point `tag` at it; returns the digest an immutable `tag` keeps naming instead (nothing is
        stored then), None when stored. `cached`: stored as the cache's own copy (evictable)."""
        ...

    async def announce_imported(self, scope: RegistryScope, repository: str, digest: Digest, tag: str | None) -> None:
        """Tell the registry's observers that an imported image is whole (its blobs fetched); never raises."""
        ...


class CachedRepositories(Protocol):
    async def create_cached_repository(self, scope: RegistryScope, repository: str) -> None:
        """Create the repository as the repository creation templates for the pull-through cache say;
        nothing happens when it exists."""
        ...


class TemplateFinder(Protocol):
    async def find_template_for(
        self, scope: RegistryScope, repository: str, applied_for: AppliedFor
    ) -> Template | None: ...


class RepositoryMaker(Protocol):
    async def create_repository(
        self, scope: RegistryScope, name: str, settings: RepositorySettings, tags: Sequence[tuple[str, str]]
    ) -> object: ...

    async def set_repository_policy(self, scope: RegistryScope, name: str, text: str) -> None: ...


class LifecyclePolicies(Protocol):
    async def put_lifecycle_policy(self, scope: RegistryScope, name: str, text: str) -> None: ...


# -- the ECR edge ---------------------------------------------------------------------------------------------


class RegistryAuthorizer(Protocol):
    async def __call__(
        self, context: CallContext, operation: str, scope: RegistryScope | None, repository: str | None
    ) -> None:
        """Raises AccessDenied unless the caller may perform `ecr:<operation>` (repository None: `repository/*`)."""
        ...


@dataclass(frozen=True, slots=True)
class RoleAct:
    """One write the cache made as the service-linked role, as the ECR call AWS records it as (CreateRepository,
    PutImage), its parameters by ECR's member names; a refused one with its error."""

    session: RequestPrincipal
    scope: RegistryScope
    action: str
    parameters: dict[str, object]
    error_code: str | None = None
    error_message: str | None = None


class RoleActivity(Protocol):
    def role_acted(self, act: RoleAct) -> None:
        """Told after each write; quick (an import waits), and never raises."""
        ...


@dataclass(frozen=True, slots=True)
class RoleCreation:
    """The account's service-linked role created (or refused: `error_code`) because `context`'s caller created
    the account's first pull-through cache rule: as AWS records it, the caller's own iam:CreateServiceLinkedRole,
    invoked by ECR."""

    context: CallContext
    account_id: str
    role: Role | None  # None: refused
    error_code: str | None = None
    error_message: str | None = None


class RoleCreations(Protocol):
    def role_creation(self, creation: RoleCreation) -> None:
        """Told once the role is created, or its creation refused; quick, and never raises."""
        ...
