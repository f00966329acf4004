"""What the registry service needs from the outside world, as small Protocols, and the read models they return.

Adapters (storage/, metadata/) implement these; the service never imports an adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pullcache.core.digests import Digest


@dataclass(frozen=True, slots=True)
class LocalBlob:
    """A committed blob that is a file on this machine: served with sendfile."""

    path: Path
    size: int


class BlobStore(Protocol):
    """Content-addressed blob storage with staged uploads.

    Nothing is visible under a digest until `commit` has verified it. Upload ids are opaque strings chosen by
    the caller. Raises only the registry's domain errors listed per method.
    """

    async def open_blob(self, digest: Digest) -> LocalBlob | None:
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

    async def commit(self, upload_id: str, digest: Digest) -> int:
        """Verify the staged bytes against `digest`, make them the blob `digest` and return its size.

        Raises BlobUploadUnknown, or DigestInvalid (and discards the upload) when the bytes do not match.
        """
        ...

    async def abort(self, upload_id: str) -> None:
        """Discard an upload; idempotent."""
        ...


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    digest: Digest
    media_type: str
    content: bytes
    subject: Digest | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class UploadRecord:
    upload_id: str
    repository: str
    started_at: datetime


class MetadataStore(Protocol):
    """Repositories, the blobs linked into them, manifests, tags and upload sessions.

    Every method is one transaction. Repositories come into being with their first blob link or manifest.
    """

    async def list_repositories(self, limit: int | None, after: str | None) -> Sequence[str]: ...

    async def repository_exists(self, repository: str) -> bool: ...

    async def link_blob(self, repository: str, digest: Digest, size: int) -> None:
        """Record that `digest` (committed, of `size` bytes) belongs to `repository`; idempotent."""
        ...

    async def find_blob_size(self, repository: str, digest: Digest) -> int | None:
        """Size of a blob linked into `repository`, or None."""
        ...

    async def find_any_blob_size(self, digest: Digest) -> int | None:
        """Size of a blob linked into any repository, or None."""
        ...

    async def unlink_blob(self, repository: str, digest: Digest) -> bool: ...

    async def missing_blobs(self, repository: str, digests: Sequence[Digest]) -> Sequence[Digest]:
        """Those of `digests` that are not linked into `repository`."""
        ...

    async def missing_manifests(self, repository: str, digests: Sequence[Digest]) -> Sequence[Digest]: ...

    async def put_manifest(self, repository: str, manifest: ManifestRecord, tag: str | None) -> None:
        """Store `manifest` (idempotent by digest) and point `tag` at it when given."""
        ...

    async def find_manifest(self, repository: str, reference: Digest | str) -> ManifestRecord | None:
        """The manifest by digest, or by tag when `reference` is a str."""
        ...

    async def delete_manifest(self, repository: str, digest: Digest) -> bool:
        """Delete the manifest and every tag pointing at it."""
        ...

    async def delete_tag(self, repository: str, tag: str) -> bool: ...

    async def list_tags(self, repository: str, limit: int | None, after: str | None) -> Sequence[str] | None:
        """Tags in lexical order after `after`, or None when the repository does not exist."""
        ...

    async def list_referrers(self, repository: str, subject: Digest) -> Sequence[ManifestRecord]: ...

    async def create_upload(self, upload: UploadRecord) -> None: ...

    async def find_upload(self, upload_id: str) -> UploadRecord | None: ...

    async def delete_upload(self, upload_id: str) -> None: ...

    async def list_uploads_started_before(self, cutoff: datetime) -> Sequence[str]:
        """Ids of the upload sessions started before `cutoff`."""
        ...
