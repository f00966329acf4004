"""The registry's use cases: what a push, a pull and content discovery do, whatever the transport.

Every input is validated here (names, references, digests) so that adapters receive only well-formed values.

Repositories that do not exist, as ECR treats them:

    a push (an upload started, a mount, a manifest)  created when a creation template applied for CREATE_ON_PUSH
                                                     covers the name and the pusher may ecr:CreateRepository
                                                     (RepositoryCreator, Pusher); else NAME_UNKNOWN
    a pull (manifest, blob, tags)                    NAME_UNKNOWN, unless the content source covers the repository
                                                     (a pull-through import creates it)
    the referrers API                                an empty index: the OCI spec forbids a 404 there (a client
                                                     takes it for a registry without the API)
    the ECR API (PutImage, InitiateLayerUpload)      never created here: ECR's operations refuse first
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pullcache.core import mediatypes
from pullcache.core.digests import Digest, InvalidDigest, looks_like_digest
from pullcache.core.names import is_valid_repository_name, is_valid_tag
from pullcache.core.scopes import RegistryScope
from pullcache.registry.errors import (
    BlobUnknown,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    StorageFull,
    TagInvalid,
)
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import (
    Blob,
    BlobStore,
    ContentGuard,
    ContentSource,
    ManifestRecord,
    MetadataStore,
    PullRequester,
    Pusher,
    RepositoryCreator,
    Unguarded,
    UploadRecord,
)
from pullcache.registry.pull_records import PullRecords

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BlobMounted:
    digest: Digest


@dataclass(frozen=True, slots=True)
class UploadStarted:
    upload_id: str


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: Digest
    subject: Digest | None
    media_type: str


@dataclass(frozen=True, slots=True)
class ServedManifest:
    """A manifest as a pull got it. `fetched`: the content source supplied it for this pull (imported, or the new
    manifest of a tag that moved) instead of the copy the registry held."""

    record: ManifestRecord
    fetched: bool


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[str]
    last: str | None  # where the next page starts, when there may be one


class RegistryService:
    """Every method takes the registry scope (account and region) the repository lives in."""

    def __init__(
        self,
        blobs: BlobStore,
        metadata: MetadataStore,
        manifests: ManifestWrites,
        creator: RepositoryCreator,
        source: ContentSource | None = None,
        *,
        guard: ContentGuard | None = None,
        pulls: PullRecords | None = None,
    ) -> None:
        """`manifests`: the one write path of manifests (the pull-through cache's imports take it too).
        `creator`: what creates the repository a push names, when a creation template allows it.
        `source`: where pulls of content the registry lacks go (the pull-through cache), if anywhere.
        `guard`: held from committing or finding a blob to linking it, so garbage collection cannot come between.
        `pulls`: where pulls are counted and their times kept (none: pulls are not recorded)."""
        self._guard = guard or Unguarded()
        self._blobs = blobs
        self._metadata = metadata
        self._manifests = manifests
        self._creator = creator
        self._source = source
        self._pulls = pulls

    @property
    def max_manifest_bytes(self) -> int:
        return self._manifests.max_bytes

    # -- blobs ---------------------------------------------------------------------------------------------

    async def get_blob(
        self, scope: RegistryScope, repository: str, digest_text: str, requester: PullRequester | None = None
    ) -> tuple[Digest, Blob]:
        """The blob; one the repository lacks comes from the content source when there is one and a requester.
        The caller sends the blob or closes it (one still arriving holds a file open).

        Raises NameInvalid, DigestInvalid, NameUnknown, BlobUnknown (and the source's errors).
        """
        _check_name(repository)
        digest = _parse_digest(digest_text)
        blob: Blob | None = None
        if await self._metadata.find_blob_size(scope, repository, digest) is not None:
            blob = await self._blobs.open_blob(digest)
        if self._source is not None and requester is not None:
            if blob is None:
                blob = await self._source.find_blob(scope, repository, digest, requester)
            else:
                await self._source.held_blob(scope, repository, blob.size)
        if blob is None:
            await self._require_pulled_repository(scope, repository)
            raise BlobUnknown(str(digest))
        return digest, blob

    async def find_blob_size(self, scope: RegistryScope, repository: str, digest: Digest) -> int | None:
        """The size of a blob linked into the repository and present in the store, or None."""
        _check_name(repository)
        size = await self._metadata.find_blob_size(scope, repository, digest)
        if size is None or await self._blobs.open_blob(digest) is None:
            return None
        return size

    async def delete_blob(self, scope: RegistryScope, repository: str, digest_text: str) -> None:
        _check_name(repository)
        digest = _parse_digest(digest_text)
        if not await self._metadata.unlink_blob(scope, repository, digest):
            await self._require_repository(scope, repository)
            raise BlobUnknown(str(digest))

    # -- uploads -------------------------------------------------------------------------------------------

    async def start_upload(
        self,
        scope: RegistryScope,
        repository: str,
        mount: str | None = None,
        source: str | None = None,
        *,
        automatic_mount: bool = True,
        pusher: Pusher | None = None,
    ) -> UploadStarted | BlobMounted:
        """Mount `mount` from `source` if it is there, else start an upload.

        Without `source`, the blob is mounted from any repository of the scope that holds it, unless
        `automatic_mount` is off (the caller may not read every repository). A repository that does not exist is
        created for `pusher` when a template allows it (none: never).

        Raises NameInvalid, NameUnknown, DigestInvalid, and what `pusher` raises to refuse.
        """
        _check_name(repository)
        await self._require_pushed_repository(scope, repository, pusher)
        if mount is not None and (source is not None or automatic_mount):
            mounted = await self._mount(scope, repository, mount, source)
            if mounted is not None:
                return mounted
        upload = UploadRecord(str(uuid.uuid4()), scope, repository, datetime.now(UTC))
        await self._blobs.start_upload(upload.upload_id)
        try:
            await self._metadata.create_upload(upload)
        except BaseException:
            await self._blobs.abort(upload.upload_id)  # no staged file without its session (a full database)
            raise
        return UploadStarted(upload.upload_id)

    async def _mount(self, scope: RegistryScope, repository: str, mount: str, source: str | None) -> BlobMounted | None:
        digest = _parse_digest(mount)
        if source is not None:
            _check_name(source)
        async with self._guard.writing():
            if source is not None:
                size = await self._metadata.find_blob_size(scope, source, digest)
            else:
                size = await self._metadata.find_any_blob_size(scope, digest)
            if size is None or await self._blobs.open_blob(digest) is None:
                return None
            await self._metadata.link_blob(scope, repository, digest, size)
        return BlobMounted(digest)

    async def upload_blob(
        self,
        scope: RegistryScope,
        repository: str,
        digest_text: str,
        chunks: AsyncIterable[bytes],
        pusher: Pusher | None = None,
    ) -> Digest:
        """A whole blob in one request (POST with `?digest=`); raises as start_upload and complete_upload do."""
        _check_name(repository)
        digest = _parse_digest(digest_text)
        started = await self.start_upload(scope, repository, pusher=pusher)
        assert isinstance(started, UploadStarted)
        try:
            await self._blobs.append(started.upload_id, 0, chunks)
        except BaseException:
            await self._discard(started.upload_id)
            raise
        return await self._commit(scope, repository, started.upload_id, digest)

    async def upload_size(self, scope: RegistryScope, repository: str, upload_id: str) -> int:
        await self._get_upload(scope, repository, upload_id)
        size = await self._blobs.upload_size(upload_id)
        if size is None:
            raise BlobUploadUnknown(upload_id)
        return size

    async def append_chunk(
        self,
        scope: RegistryScope,
        repository: str,
        upload_id: str,
        start: int | None,
        chunks: AsyncIterable[bytes],
    ) -> int:
        """Append a chunk that starts at `start` (None: a streamed chunk); returns the upload's new size.

        Raises BlobUploadUnknown, RangeInvalid, StorageFull (the upload is discarded).
        """
        await self._get_upload(scope, repository, upload_id)
        return await self._append(upload_id, start, chunks)

    async def complete_upload(
        self,
        scope: RegistryScope,
        repository: str,
        upload_id: str,
        digest_text: str | None,
        start: int | None,
        chunks: AsyncIterable[bytes] | None,
    ) -> Digest:
        """Append the final chunk, if any, and commit the upload under `digest_text`.

        Raises BlobUploadUnknown, DigestInvalid, RangeInvalid, StorageFull (the upload is discarded).
        """
        await self._get_upload(scope, repository, upload_id)
        if digest_text is None:
            raise DigestInvalid("the digest query parameter is required to complete an upload")
        digest = _parse_digest(digest_text)
        if chunks is not None:
            await self._append(upload_id, start, chunks)
        return await self._commit(scope, repository, upload_id, digest)

    async def cancel_upload(self, scope: RegistryScope, repository: str, upload_id: str) -> None:
        await self._get_upload(scope, repository, upload_id)
        await self._discard(upload_id)

    async def purge_uploads(self, older_than: timedelta) -> int:
        """Discard upload sessions (of every scope) started more than `older_than` ago; returns how many."""
        expired = await self._metadata.list_uploads_started_before(datetime.now(UTC) - older_than)
        for upload_id in expired:
            await self._discard(upload_id)
        return len(expired)

    async def _append(self, upload_id: str, start: int | None, chunks: AsyncIterable[bytes]) -> int:
        try:
            return await self._blobs.append(upload_id, start, chunks)
        except StorageFull:
            await self._discard(upload_id)  # the store dropped the bytes; the session goes with them
            raise

    async def _commit(self, scope: RegistryScope, repository: str, upload_id: str, digest: Digest) -> Digest:
        if not await self._metadata.repository_exists(scope, repository):
            await self._discard(upload_id)  # deleted since the upload started: the blob has nowhere to go
            raise NameUnknown(repository, scope.account_id)
        try:
            await self._blobs.verify(upload_id, digest)  # the slow part, before holding the guard
        except BaseException:
            await self._discard(upload_id)  # refused (a wrong digest, a full disk): the client starts again
            raise
        async with self._guard.writing():
            try:
                size = await self._blobs.commit(upload_id, digest)
            except BaseException:
                await self._discard(upload_id)
                raise
            await self._metadata.delete_upload(upload_id)
            await self._metadata.link_blob(scope, repository, digest, size)
        return digest

    async def _discard(self, upload_id: str) -> None:
        """Discard the upload's bytes, then its session. The bytes go first and always: on a full disk, deleting
        the session may be refused too, and it then stays (a few bytes of database, its upload unknown to every
        step) until purge_uploads expires it."""
        await self._blobs.abort(upload_id)
        try:
            await self._metadata.delete_upload(upload_id)
        except StorageFull:
            log.warning("upload %s discarded; its session stays until it expires: the storage is full", upload_id)

    async def _get_upload(self, scope: RegistryScope, repository: str, upload_id: str) -> UploadRecord:
        _check_name(repository)
        if not _is_uuid(upload_id):
            raise BlobUploadUnknown(upload_id)
        upload = await self._metadata.find_upload(scope, upload_id)
        if upload is None or upload.repository != repository:
            raise BlobUploadUnknown(upload_id)
        return upload

    # -- manifests -----------------------------------------------------------------------------------------

    async def get_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: str,
        *,
        pull: bool = False,
        requester: PullRequester | None = None,
        principal_arn: str | None = None,
    ) -> ManifestRecord:
        """The manifest by tag or digest; `pull` records the read as a pull of the image by `principal_arn` (the
        caller's aws:PrincipalArn, None when anonymous). With a `requester`, the content source (if any) may
        refresh a cached tag or import what the repository lacks.

        Raises NameInvalid, DigestInvalid, NameUnknown, ManifestUnknown (and the source's errors).
        """
        served = await self.serve_manifest(
            scope, repository, reference, pull=pull, requester=requester, principal_arn=principal_arn
        )
        return served.record

    async def serve_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: str,
        *,
        pull: bool = False,
        requester: PullRequester | None = None,
        principal_arn: str | None = None,
    ) -> ServedManifest:
        """As get_manifest, saying also whether the content source supplied the manifest; raises as it does."""
        _check_name(repository)
        key: Digest | str = _parse_digest(reference) if looks_like_digest(reference) else reference
        if isinstance(key, str) and not is_valid_tag(key):
            await self._require_pulled_repository(scope, repository)
            raise ManifestUnknown(reference)
        held = manifest = await self._metadata.find_manifest(scope, repository, key)
        if self._source is not None and requester is not None:
            manifest = await self._source.find_manifest(scope, repository, key, manifest, requester)
        if manifest is None:
            await self._require_pulled_repository(scope, repository)
            raise ManifestUnknown(reference)
        if pull:
            self.record_pull(scope, repository, manifest, principal_arn)
        return ServedManifest(manifest, fetched=held is None or held.digest != manifest.digest)

    async def find_manifest(
        self, scope: RegistryScope, repository: str, reference: Digest | str
    ) -> ManifestRecord | None:
        """The manifest by digest or tag, or None; reading it is not a pull."""
        _check_name(repository)
        return await self._metadata.find_manifest(scope, repository, reference)

    def record_pull(
        self, scope: RegistryScope, repository: str, manifest: ManifestRecord, principal_arn: str | None
    ) -> None:
        """Count a pull of `manifest` by `principal_arn` (None: anonymous) and keep its time unless that principal
        is excluded (pull_records.py): a dict update, no I/O. Bookkeeping never fails a read: what the database
        refuses later is the background flush's to retry."""
        if self._pulls is not None:
            self._pulls.record(scope, repository, manifest, principal_arn)

    async def put_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: str,
        content: bytes,
        content_type: str | None,
        pusher: Pusher | None = None,
    ) -> StoredManifest:
        """Validate and store a manifest under a tag or its digest. A repository that does not exist is created for
        `pusher` when a template allows it (none: never).

        Raises NameInvalid, NameUnknown, TagInvalid, DigestInvalid, ManifestTooLarge, ManifestInvalid,
        ManifestBlobUnknown, TagImmutable (the repository keeps the tag on another image), and what `pusher`
        raises to refuse.
        """
        _check_name(repository)
        await self._require_pushed_repository(scope, repository, pusher)
        tag: str | None = None
        if looks_like_digest(reference):
            expected = _parse_digest(reference)
            digest = Digest.of(content, expected.algorithm)
            if digest != expected:
                raise DigestInvalid(f"manifest digest {digest} does not match {expected}", {"digest": reference})
        else:
            if not is_valid_tag(reference):
                raise TagInvalid(reference)
            tag = reference
            digest = Digest.of(content)
        return await self.store_manifest(scope, repository, digest, tag, content, content_type)

    async def store_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        digest: Digest,
        tag: str | None,
        content: bytes,
        content_type: str | None,
    ) -> StoredManifest:
        """Store `content` (whose digest is `digest`) and point `tag` at it, under the repository's tag
        mutability rule (manifest_writes.py). Raises as put_manifest does; the repository must exist."""
        _check_name(repository)
        manifest = self._manifests.check(digest, content, content_type)
        await self._manifests.store(scope, repository, manifest, tag)
        return StoredManifest(digest, manifest.record.subject, manifest.record.media_type)

    async def delete_manifest(self, scope: RegistryScope, repository: str, reference: str) -> None:
        """Delete by digest (the manifest and its tags) or by tag (the tag only)."""
        _check_name(repository)
        if looks_like_digest(reference):
            deleted = await self._metadata.delete_manifest(scope, repository, _parse_digest(reference))
        elif is_valid_tag(reference):
            deleted = await self._metadata.delete_tag(scope, repository, reference)
        else:
            raise TagInvalid(reference)
        if not deleted:
            await self._require_repository(scope, repository)
            raise ManifestUnknown(reference)

    # -- content discovery ---------------------------------------------------------------------------------

    async def list_tags(self, scope: RegistryScope, repository: str, limit: int | None, after: str | None) -> Page:
        _check_name(repository)
        tags = await self._metadata.list_tags(scope, repository, _one_more(limit), after)
        if tags is None:
            raise NameUnknown(repository, scope.account_id)
        return _page(tags, limit)

    async def list_repositories(self, scope: RegistryScope, limit: int | None, after: str | None) -> Page:
        return _page(await self._metadata.list_repositories(scope, _one_more(limit), after), limit)

    async def list_referrers(
        self, scope: RegistryScope, repository: str, subject_text: str, artifact_type: str | None
    ) -> list[ManifestRecord]:
        _check_name(repository)
        subject = _parse_digest(subject_text)
        # No NAME_UNKNOWN for a repository that does not exist: "the registry MUST NOT return a 404 Not Found to a
        # referrers API request" (OCI distribution spec, Listing Referrers).
        referrers = await self._metadata.list_referrers(scope, repository, subject)
        if artifact_type is not None:
            referrers = [r for r in referrers if r.artifact_type == artifact_type]
        return list(referrers)

    # -- repositories that do not exist --------------------------------------------------------------------

    async def _require_repository(self, scope: RegistryScope, repository: str) -> None:
        """Raise NameUnknown unless the repository exists."""
        if not await self._metadata.repository_exists(scope, repository):
            raise NameUnknown(repository, scope.account_id)

    async def _require_pulled_repository(self, scope: RegistryScope, repository: str) -> None:
        """What a pull that found nothing asks: raise NameUnknown unless the repository exists or the content
        source covers it (a pull-through repository is created by its first import). Asked on misses only."""
        if await self._metadata.repository_exists(scope, repository):
            return
        if self._source is None or not await self._source.covers(scope, repository):
            raise NameUnknown(repository, scope.account_id)

    async def _require_pushed_repository(self, scope: RegistryScope, repository: str, pusher: Pusher | None) -> None:
        """A push into a repository that does not exist creates it, as ECR's create on push does: when a template
        covers it and `pusher` may create it. Raises NameUnknown, or what `pusher` raises to refuse."""
        if await self._metadata.repository_exists(scope, repository):
            return
        if pusher is None or not await self._creator.covers_push(scope, repository):
            raise NameUnknown(repository, scope.account_id)
        await pusher.authorize_create(repository)
        if not await self._creator.create_on_push(scope, repository):
            raise NameUnknown(repository, scope.account_id)  # the template went away meanwhile


def referrer_descriptor(manifest: ManifestRecord) -> dict[str, object]:
    """The descriptor of a referrer as the referrers API lists it."""
    descriptor: dict[str, object] = {
        "mediaType": manifest.media_type,
        "digest": str(manifest.digest),
        "size": len(manifest.content),
    }
    if manifest.artifact_type:
        descriptor["artifactType"] = manifest.artifact_type
    if manifest.annotations:
        descriptor["annotations"] = manifest.annotations
    return descriptor


def referrers_index(manifests: Sequence[ManifestRecord]) -> dict[str, object]:
    return {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [referrer_descriptor(m) for m in manifests],
    }


def _one_more(limit: int | None) -> int | None:
    """Ask for one item past the page, to know whether a next page exists."""
    return None if limit is None else limit + 1


def _page(items: Sequence[str], limit: int | None) -> Page:
    if limit is None or len(items) <= limit:
        return Page(items, None)
    page = items[:limit]
    return Page(page, page[-1] if page else None)


def _check_name(repository: str) -> None:
    if not is_valid_repository_name(repository):
        raise NameInvalid(repository)


def _parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigest as error:
        raise DigestInvalid(str(error), {"digest": text}) from None


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
