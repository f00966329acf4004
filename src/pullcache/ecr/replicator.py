"""Replication of pushed images to the destinations of the registry's replication configuration.

The registry tells the Replicator of every pushed manifest (ManifestWrites' observers: a /v2/ push or PutImage)
and of every image the pull-through cache imported, once its blobs are in; a replica is not replicated again.
For a repository some rule covers, the Replicator records one replication per destination, IN_PROGRESS, and
copies the image in a background task of its own: the push is answered at once and never fails for it.

    a destination                 what the copy does there
    an account this server holds  (another account: its registry policy must allow the source account
                                  ecr:ReplicateImage, and ecr:CreateRepository when the repository is new)
                                  the repository created as the destination's REPLICATION template says (else
                                  with default settings); each blob linked (the blob store is shared and
                                  content-addressed: no byte is copied); child manifests first; then the
                                  manifest with its tag, through the registry's write path (tag mutability
                                  applies: an immutable tag naming another image there fails the replication)
    any other account             FAILED at once: this server cannot reach another AWS account

Each replication ends COMPLETE or FAILED with a failure code (DescribeImageReplicationStatus). ECR documents no
values for the code; these are reasoned and named as ECR names its image failure codes:

    RegistryNotFound        the destination account is not one this server holds
    AccessDenied            the destination's registry policy does not allow the source account
    ImageNotFound           the image (or content it references) left the source before it was copied
    ImageTagAlreadyExists   the destination keeps the tag, immutable, on another image
    InternalError           every attempt failed otherwise (the reason is logged)

An unexpected error (the database busy or full) is retried after `retry_delays`; a copy is idempotent, so a retry
or a second run does no harm. What was IN_PROGRESS when the server stopped is resumed at start (`resume`): the
table of replications is the table of pending work, so nothing else need be kept. Each worker process resumes
what it finds, so several may copy the same image once each; the copies agree.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from pullcache.auth.authorization import AccessDenied, AccessRequest
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.replication_ports import (
    ImageReplication,
    KnownAccounts,
    RegistryPolicies,
    ReplicaRepositories,
    ReplicationState,
    ReplicationStore,
)
from pullcache.policy import (
    MalformedPolicyDocument,
    PolicyKind,
    PolicySourceType,
    RequestPrincipal,
    SourcedPolicy,
    parse_policy,
)
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import ContentGuard, MetadataStore, Unguarded

log = logging.getLogger(__name__)

REGISTRY_NOT_FOUND = "RegistryNotFound"
ACCESS_DENIED = "AccessDenied"
IMAGE_NOT_FOUND = "ImageNotFound"
TAG_ALREADY_EXISTS = "ImageTagAlreadyExists"
INTERNAL_ERROR = "InternalError"
# What a cross-account destination's registry policy must allow the source account (ECR's user guide, "Granting
# registry permissions for cross account replication"): replicating, and creating the repository when it is not
# there yet (without that, the repository must exist already).
REPLICATE_IMAGE = "ecr:ReplicateImage"
CREATE_REPOSITORY = "ecr:CreateRepository"
RETRY_DELAYS = (1.0, 5.0, 30.0)


class RequestAuthorizer(Protocol):
    async def authorize(self, request: AccessRequest) -> None:
        """Raises AccessDenied unless the policies allow the request."""
        ...


@dataclass(frozen=True, slots=True)
class ReplicationFailure:
    code: str
    reason: str


class ImageGone(Exception):
    """The image, or content it references, is no longer in the source repository."""


class Replicator:
    """StoredManifestObserver of the registry's ManifestWrites; `close` cancels the copies under way (they stay
    IN_PROGRESS, resumed at the next start)."""

    def __init__(
        self,
        store: ReplicationStore,
        metadata: MetadataStore,
        writes: ManifestWrites,
        accounts: KnownAccounts,
        policies: RegistryPolicies,
        repositories: ReplicaRepositories,
        authorizer: RequestAuthorizer,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        *,
        guard: ContentGuard | None = None,
    ) -> None:
        """`guard`: held from finding the source's blobs to storing the replica, so garbage collection cannot
        delete one in between."""
        self._guard = guard or Unguarded()
        self._store = store
        self._metadata = metadata
        self._writes = writes
        self._accounts = accounts
        self._policies = policies
        self._repositories = repositories
        self._authorizer = authorizer
        self._retry_delays = tuple(retry_delays)
        self._tasks: set[asyncio.Task[None]] = set()

    async def manifest_stored(self, scope: RegistryScope, repository: str, digest: Digest, tag: str | None) -> None:
        configuration = await self._store.find_configuration(scope)
        if configuration is None:
            return
        destinations = [d for d in configuration.destinations_for(repository) if d.scope() != scope]
        if not destinations:
            return
        now = _now()
        replications = [
            ImageReplication(scope, repository, digest, d, ReplicationState.IN_PROGRESS, tag, None, now)
            for d in destinations
        ]
        await self._store.put_replications(replications)
        for replication in replications:
            self._start(replication)

    async def resume(self) -> int:
        """Start again every replication still IN_PROGRESS (a restart); returns how many."""
        pending = await self._store.list_in_progress()
        for replication in pending:
            self._start(replication)
        return len(pending)

    async def wait(self) -> None:
        """Until the copies under way now are done (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, replication: ImageReplication) -> None:
        task = asyncio.create_task(self._run(replication))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, replication: ImageReplication) -> None:
        failure: ReplicationFailure | None = ReplicationFailure(INTERNAL_ERROR, "no attempt succeeded")
        for delay in (0.0, *self._retry_delays):
            await asyncio.sleep(delay)
            try:
                failure = await self._replicate(replication)
            except Exception as error:
                log.warning("replicating %s failed; trying again: %r", _name(replication), error)
                failure = ReplicationFailure(INTERNAL_ERROR, repr(error))
                continue
            break
        state = ReplicationState.COMPLETE if failure is None else ReplicationState.FAILED
        if failure is not None:
            log.warning("replicating %s failed (%s): %s", _name(replication), failure.code, failure.reason)
        ended = replace(
            replication, state=state, failure_code=None if failure is None else failure.code, updated_at=_now()
        )
        try:
            await self._store.put_replications([ended])
        except Exception as error:  # left IN_PROGRESS: resumed at the next start
            log.error("the end of replicating %s could not be recorded: %r", _name(replication), error)

    async def _replicate(self, replication: ImageReplication) -> ReplicationFailure | None:
        source, repository = replication.source, replication.repository
        destination = replication.destination.scope()
        if await self._accounts.find_root_key(destination.account_id) is None:
            return ReplicationFailure(
                REGISTRY_NOT_FOUND,
                f"the registry {destination.account_id} ({destination.region}) is not one this server holds",
            )
        exists = await self._metadata.repository_exists(destination, repository)
        if destination.account_id != source.account_id:
            denied = await self._refusal(source, destination, repository, exists)
            if denied is not None:
                return denied
        if not exists:
            await self._repositories.create_replica_repository(destination, repository)
        try:
            kept = await self._copy(source, destination, repository, replication.digest, replication.tag)
        except ImageGone as gone:
            return ReplicationFailure(IMAGE_NOT_FOUND, str(gone))
        if kept is not None:
            return ReplicationFailure(
                TAG_ALREADY_EXISTS, f"the immutable tag {replication.tag} names {kept} in {destination.account_id}"
            )
        return None

    async def _refusal(
        self, source: RegistryScope, destination: RegistryScope, repository: str, exists: bool
    ) -> ReplicationFailure | None:
        """Whether the destination's registry policy lets the source account replicate into `repository`."""
        text = await self._policies.find_registry_policy(destination)
        arn = destination.repository_arn(repository)
        policy = None if text is None else _parse(text, destination.repository_arn("*"))
        for action in (REPLICATE_IMAGE,) if exists else (REPLICATE_IMAGE, CREATE_REPOSITORY):
            request = AccessRequest(
                RequestPrincipal.root(source.account_id), action, arn, destination.account_id, policy
            )
            try:
                await self._authorizer.authorize(request)
            except AccessDenied as denied:
                return ReplicationFailure(ACCESS_DENIED, str(denied))
        return None

    async def _copy(
        self, source: RegistryScope, destination: RegistryScope, repository: str, digest: Digest, tag: str | None
    ) -> Digest | None:
        """Copy the manifest (children and blobs first) and point `tag` at it. Returns the digest an immutable tag
        keeps naming in the destination (nothing stored then), else None. Raises ImageGone."""
        record = await self._metadata.find_manifest(source, repository, digest)
        if record is None:
            raise ImageGone(f"{repository}@{digest} is no longer in the source repository")
        manifest = self._writes.check(digest, record.content, record.media_type)
        children = [child.digest for child in manifest.parsed.children]
        # An imported index holds only the platforms pulled so far: those the source lacks, the replica lacks too
        # (each is replicated when its own import is whole).
        lacking = set(await self._metadata.missing_manifests(source, repository, children))
        for child in await self._metadata.missing_manifests(destination, repository, children):
            if child not in lacking:
                await self._copy(source, destination, repository, child, None)
        async with self._guard.writing():
            for blob in manifest.parsed.blobs:
                if blob.external:
                    continue
                size = await self._metadata.find_blob_size(source, repository, blob.digest)
                if size is None:
                    raise ImageGone(f"the blob {blob.digest} is no longer in {repository}")
                await self._metadata.link_blob(destination, repository, blob.digest, size)
            return await self._writes.store_imported(destination, repository, manifest, tag)


def _parse(text: str, arn: str) -> SourcedPolicy | None:
    try:
        return SourcedPolicy(parse_policy(text, PolicyKind.RESOURCE), arn, PolicySourceType.RESOURCE)
    except MalformedPolicyDocument:
        return None  # PutRegistryPolicy validates what it stores: a policy that no longer parses allows nothing


def _name(replication: ImageReplication) -> str:
    destination = replication.destination
    return f"{replication.repository}@{replication.digest} to {destination.registry_id}/{destination.region}"


def _now() -> datetime:
    return datetime.now(UTC)
