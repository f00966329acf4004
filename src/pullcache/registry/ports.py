"""What the registry service needs from the outside world, as small Protocols, and the read models they return.

Adapters (storage/, metadata/) implement these; the service never imports an adapter.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.tag_mutability import TagMutabilityRule

# -- blobs: bytes as streams, and what a driver may offer besides -------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalFile:
    """Capability: the blob is the whole of the file `path` on this machine (its byte n is the file's byte n), so
    the HTTP edge sends any range of it with the kernel's sendfile and no byte passes through Python."""

    path: Path


class GrowingFile(Protocol):
    """Capability: the blob is still arriving into a file on this machine (a pull-through fill), sent with sendfile
    stretch by stretch as `sendable` allows."""

    @property
    def fileno(self) -> int:
        """The open file holding the bytes `sendable` allows; another one once the blob is verified."""
        ...

    async def sendable(self, position: int, end: int) -> int:
        """Wait until bytes from `position` on may be sent and return up to where (at most `end`): the blob's last
        bytes only once it is verified. Raises BlobFillFailed when the fill fails (the client must then be cut off:
        part of the body is on the wire)."""
        ...


@dataclass(frozen=True, slots=True)
class BlobUrl:
    """Capability: a client may fetch the blob's bytes from `url` itself (an object store's presigned URL), so the
    HTTP edge redirects it there. No driver offers it yet."""

    url: str


class Blob(Protocol):
    """Bytes under a digest as the registry serves them: committed in the BlobStore, or still arriving (a fill of
    the pull-through cache).

    Every blob is read as a stream of chunks, for any range. The capabilities are typed values, None when absent;
    the HTTP edge asks for them in order of cost: a local file, then a URL, and streams the chunks otherwise.
    """

    @property
    def size(self) -> int: ...

    def chunks(self, start: int, length: int) -> AsyncGenerator[bytes]:
        """The bytes `start` to `start + length`, a range within the blob (a reader that stops early closes the
        generator). A blob still arriving hands them over as they may be sent (as `GrowingFile.sendable` says),
        raises as it does, and is closed when its chunks end."""
        ...

    def local_file(self) -> LocalFile | GrowingFile | None:
        """The file on this machine holding the bytes, whole or still growing; None when there is none."""
        ...

    async def url(self) -> BlobUrl | None:
        """Where a client may fetch the bytes itself; None when the store offers no such place."""
        ...

    def close(self) -> None:
        """Let go of what the blob holds until it is sent (a blob still arriving holds its file open; a committed
        blob holds nothing); idempotent."""
        ...


class BlobStore(Protocol):
    """Content-addressed blob storage with staged uploads.

    Nothing is visible under a digest until `commit` has verified it. Upload ids are opaque strings chosen by
    the caller. Raises only the registry's domain errors listed per method, and StorageFull from any write
    refused for lack of space (`append` and `commit` discard the upload first: nothing staged is kept). The blobs
    it returns hold nothing open (their `close` does nothing) and may be read any number of times.
    """

    async def open_blob(self, digest: Digest) -> Blob | None:
        """The committed blob, or None when the store does not hold it."""
        ...

    async def start_upload(self, upload_id: str) -> None: ...

    async def upload_size(self, upload_id: str) -> int | None:
        """Bytes staged so far, or None when there is no such upload."""
        ...

    async def append(self, upload_id: str, offset: int | None, chunks: AsyncIterable[bytes]) -> int:
        """Append `chunks` at `offset` (None: wherever the upload ends) and return the new size.

        Raises BlobUploadUnknown, or RangeInvalid when `offset` is not where the upload ends.
        """
        ...

    async def verify(self, upload_id: str, digest: Digest) -> None:
        """Check the staged bytes against `digest` and make them durable ahead of `commit`, which then has little
        left to do: the slow part of a commit, done before the caller holds the content guard.

        Raises BlobUploadUnknown, or DigestInvalid (and discards the upload) when the bytes do not match.
        """
        ...

    async def commit(self, upload_id: str, digest: Digest) -> int:
        """Verify the staged bytes against `digest`, make them the blob `digest` and return its size.

        Raises BlobUploadUnknown, or DigestInvalid (and discards the upload) when the bytes do not match.
        """
        ...

    async def abort(self, upload_id: str) -> None:
        """Discard an upload; idempotent."""
        ...

    async def find_staged(self, upload_id: str) -> Blob | None:
        """The bytes staged so far, or None when there is no such upload. When the store stages uploads in local
        files (`local_file()` is a LocalFile), that file grows while the upload does and becomes the committed
        blob (the same inode) on commit: what the pull-through cache's fills tail."""
        ...


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    digest: Digest
    media_type: str
    content: bytes
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    # Facts about the copy in one repository, set by the store, not part of the manifest's value.
    pushed_at: datetime | None = field(default=None, compare=False)  # when the repository first stored it
    pulled_at: datetime | None = field(default=None, compare=False)  # the last pull recorded (pull_records.py)
    # Found by tag: when the upstream of a pull-through repository was last asked what the tag names.
    tag_checked_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class UploadRecord:
    upload_id: str
    scope: RegistryScope
    repository: str
    started_at: datetime


class MetadataStore(Protocol):
    """Repositories, the blobs linked into them, manifests, tags and upload sessions.

    Every repository lives in a registry scope (account and region): a name means nothing without its scope, and
    nothing of one scope is visible from another. Every method is one transaction. Repositories are created by the
    ECR API only (CreateRepository, or on the registry's behalf: a push a creation template allows, a pull-through
    import): no write here creates one. A write into a repository that does not exist is refused (`put_manifest`)
    or has nowhere to go (`link_blob`).
    """

    async def list_repositories(self, scope: RegistryScope, limit: int | None, after: str | None) -> Sequence[str]: ...

    async def repository_exists(self, scope: RegistryScope, repository: str) -> bool: ...

    async def find_tag_mutability(self, scope: RegistryScope, repository: str) -> TagMutabilityRule | None:
        """The repository's tag mutability setting, or None when the repository does not exist."""
        ...

    async def link_blob(self, scope: RegistryScope, repository: str, digest: Digest, size: int) -> None:
        """Record that `digest` (committed, of `size` bytes) belongs to `repository`; idempotent. Nothing is linked
        when the repository does not exist (it was deleted meanwhile): the blob stays in the store, unlinked."""
        ...

    async def find_blob_size(self, scope: RegistryScope, repository: str, digest: Digest) -> int | None:
        """Size of a blob linked into `repository`, or None."""
        ...

    async def find_any_blob_size(self, scope: RegistryScope, digest: Digest) -> int | None:
        """Size of a blob linked into any repository of the scope, or None."""
        ...

    async def unlink_blob(self, scope: RegistryScope, repository: str, digest: Digest) -> bool: ...

    async def missing_blobs(self, scope: RegistryScope, repository: str, digests: Sequence[Digest]) -> Sequence[Digest]:
        """Those of `digests` that are not linked into `repository`."""
        ...

    async def missing_manifests(
        self, scope: RegistryScope, repository: str, digests: Sequence[Digest]
    ) -> Sequence[Digest]: ...

    async def put_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        manifest: ManifestRecord,
        tag: str | None,
        *,
        keep_tag: bool = False,
        cached: bool = False,
    ) -> Digest | None:
        """Store `manifest` (idempotent by digest) and point `tag` at it when given.

        Returns the digest `tag` named before (None when it was new or not given). With `keep_tag`, a tag that
        already names another manifest is left as it is and nothing is stored. `cached`: the pull-through cache
        imported it (evictable); a manifest stored otherwise is pushed, and stays so when imported again.
        Raises NameUnknown when the repository does not exist.
        """
        ...

    async def find_manifest(
        self, scope: RegistryScope, repository: str, reference: Digest | str
    ) -> ManifestRecord | None:
        """The manifest by digest, or by tag when `reference` is a str."""
        ...

    async def mark_tag_checked(self, scope: RegistryScope, repository: str, tag: str, at: datetime) -> None:
        """Remember `at` as the last time the upstream confirmed what `tag` names."""
        ...

    async def delete_manifest(self, scope: RegistryScope, repository: str, digest: Digest) -> bool:
        """Delete the manifest and every tag pointing at it."""
        ...

    async def delete_tag(self, scope: RegistryScope, repository: str, tag: str) -> bool: ...

    async def list_tags(
        self, scope: RegistryScope, repository: str, limit: int | None, after: str | None
    ) -> Sequence[str] | None:
        """Tags in lexical order after `after`, or None when the repository does not exist."""
        ...

    async def list_referrers(
        self, scope: RegistryScope, repository: str, subject: Digest
    ) -> Sequence[ManifestRecord]: ...

    async def create_upload(self, upload: UploadRecord) -> None: ...

    async def find_upload(self, scope: RegistryScope, upload_id: str) -> UploadRecord | None:
        """The upload session, or None when there is none of that id in `scope`."""
        ...

    async def delete_upload(self, upload_id: str) -> None: ...

    async def list_uploads_started_before(self, cutoff: datetime) -> Sequence[str]:
        """Ids of the upload sessions started before `cutoff`."""
        ...


# -- content from elsewhere: the pull-through cache -----------------------------------------------------------


class PullRequester(Protocol):
    """Who pulls, asked before content is imported into a repository on their behalf."""

    async def authorize_import(self, repository: str, repository_exists: bool) -> None:
        """Raise Unauthorized or Denied unless the caller may have upstream content imported into `repository`
        (and, when it does not exist yet, the repository created)."""
        ...


class ContentSource(Protocol):
    """Where a repository's content comes from when the registry does not hold it (or holds a tag that may be
    stale): the narrow interface the pull-through cache implements. A source that does not cover a repository
    returns what it was given."""

    async def covers(self, scope: RegistryScope, repository: str) -> bool:
        """Whether content of `repository` comes from this source: a repository it covers need not exist before its
        first pull (the import creates it), so a pull of one that does not is no NAME_UNKNOWN."""
        ...

    async def find_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: Digest | str,
        cached: ManifestRecord | None,
        requester: PullRequester,
    ) -> ManifestRecord | None:
        """The manifest to serve for `reference`: `cached`, a fresher one, or one imported now; None when there
        is none. Raises Denied, Unauthorized, or UpstreamUnavailable when nothing can be served."""
        ...

    async def find_blob(
        self, scope: RegistryScope, repository: str, digest: Digest, requester: PullRequester
    ) -> Blob | None:
        """The blob, fetched into the registry if the repository is a cached one (then possibly still arriving);
        None when it is not there."""
        ...

    async def held_blob(self, scope: RegistryScope, repository: str, size: int) -> None:
        """A pull of a blob the repository holds, answered without the source: the source counts it (a cache hit
        when it covers the repository)."""
        ...


# -- repositories a push creates: ECR's create on push -------------------------------------------------------


class Pusher(Protocol):
    """Who pushes, asked before a push creates the repository it names."""

    async def authorize_create(self, repository: str) -> None:
        """Raise Unauthorized or Denied unless the caller may create `repository` (ecr:CreateRepository)."""
        ...


class RepositoryCreator(Protocol):
    """ECR's create on push: a push to a repository that does not exist creates it when a repository creation
    template applied for CREATE_ON_PUSH covers its name (the longest prefix, else ROOT), with that template's
    settings; without one, the push is refused (NAME_UNKNOWN)."""

    async def covers_push(self, scope: RegistryScope, repository: str) -> bool:
        """Whether a template lets a push create `repository`."""
        ...

    async def create_on_push(self, scope: RegistryScope, repository: str) -> bool:
        """Create `repository` as its template says (settings, policies, resource tags); False when no template
        covers it (any more). One that exists already (another push created it first) is left as it is: True."""
        ...


class ContentGuard(Protocol):
    """What keeps garbage collection from deleting content a writer is about to make reachable (collection.py).

    Every write that decides a blob exists and then links it, or stores a manifest that names blobs, runs inside
    `writing()`, from the decision to the committed link; the collector deletes only while no writer is inside.
    """

    def writing(self) -> AbstractAsyncContextManager[object]: ...


class Unguarded:
    """The guard of a store no collector runs over (a test's, a tool's): writing() holds nothing."""

    def writing(self) -> AbstractAsyncContextManager[object]:
        return contextlib.nullcontext()
