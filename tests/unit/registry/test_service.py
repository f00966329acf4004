"""RegistryService over the real adapters (a FilesystemBlobStore and a SqlMetadataStore on a SQLite file).

Covers the upload state machine, cross-repository mounts, manifest validation and paging, and repositories that
do not exist: NAME_UNKNOWN, or created by a push a creation template allows (the RepositoryCreator double). REPO
and OTHER exist from the start; the helpers push as a pusher allowed to create repositories.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.registry.errors import (
    BlobUnknown,
    BlobUploadUnknown,
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    RangeInvalid,
    StorageFull,
    TagInvalid,
)
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import MetadataStore
from pullcache.registry.pull_records import PullRecords
from pullcache.registry.service import BlobMounted, Page, RegistryService, UploadStarted, referrers_index
from pullcache.storage import filesystem
from pullcache.storage.filesystem import FileBlob, FilesystemBlobStore
from tests.oci_documents import (
    DOCKER_FOREIGN_LAYER,
    OCI_CONFIG,
    OCI_LAYER,
    Document,
    descriptor,
    encode,
    image_manifest,
    index,
)
from tests.stores import AnyPusher, SqlRepositories, chunks, sqlite_metadata_store, sqlite_repositories

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_ACCOUNT: Final = RegistryScope("210987654321", "us-east-1")
OTHER_REGION: Final = RegistryScope("123456789012", "eu-west-1")
REPO: Final = "library/app"
OTHER: Final = "team/other"
MAX_MANIFEST: Final = 4096
SIGNATURE: Final = "application/vnd.example.signature.v1+json"


@pytest.fixture
async def metadata(tmp_path: Path) -> AsyncIterator[MetadataStore]:
    async with sqlite_metadata_store(tmp_path) as store:
        yield store


@pytest.fixture
async def repositories(tmp_path: Path, metadata: MetadataStore) -> AsyncIterator[SqlRepositories]:
    async with sqlite_repositories(tmp_path) as created:
        await created.create(SCOPE, REPO, OTHER)
        yield created


@pytest.fixture
def pulls(metadata: MetadataStore) -> PullRecords:
    assert isinstance(metadata, SqlMetadataStore)
    return PullRecords(metadata)


@pytest.fixture
def service(
    tmp_path: Path, metadata: MetadataStore, repositories: SqlRepositories, pulls: PullRecords
) -> RegistryService:
    return RegistryService(
        FilesystemBlobStore(tmp_path / "blobs"),
        metadata,
        ManifestWrites(metadata, max_bytes=MAX_MANIFEST),
        repositories,
        pulls=pulls,
    )


PUSHER: Final = AnyPusher()


async def push_blob(service: RegistryService, repository: str, data: bytes) -> Digest:
    return await service.upload_blob(SCOPE, repository, str(Digest.of(data)), chunks(data), PUSHER)


async def start(service: RegistryService, repository: str = REPO) -> str:
    started = await service.start_upload(SCOPE, repository, pusher=PUSHER)
    assert isinstance(started, UploadStarted)
    return started.upload_id


async def read(service: RegistryService, repository: str, digest: Digest) -> bytes:
    found, blob = await service.get_blob(SCOPE, repository, str(digest))
    assert found == digest
    assert isinstance(blob, FileBlob)  # no content source here: every blob is a local file
    return blob.path.read_bytes()


async def pushed_image(service: RegistryService, repository: str = REPO, seed: str = "") -> Document:
    """An image manifest whose config and layer are pushed to `repository`; the manifest itself is not."""
    config, layer = f"config{seed}".encode(), f"layer{seed}".encode()
    await push_blob(service, repository, config)
    await push_blob(service, repository, layer)
    return image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)])


# -- the upload state machine -------------------------------------------------------------------------------


async def test_chunked_upload_is_committed_under_its_digest(service: RegistryService) -> None:
    upload_id = await start(service)

    assert await service.upload_size(SCOPE, REPO, upload_id) == 0
    assert await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"first ")) == 6
    assert await service.append_chunk(SCOPE, REPO, upload_id, 6, chunks(b"second ")) == 13
    assert await service.upload_size(SCOPE, REPO, upload_id) == 13
    digest = await service.complete_upload(
        SCOPE, REPO, upload_id, str(Digest.of(b"first second third")), 13, chunks(b"third")
    )

    assert digest == Digest.of(b"first second third")
    assert await read(service, REPO, digest) == b"first second third"
    with pytest.raises(BlobUploadUnknown):
        await service.upload_size(SCOPE, REPO, upload_id)


async def test_streamed_chunk_without_offset_appends_at_the_end(service: RegistryService) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, None, chunks(b"one "))

    assert await service.append_chunk(SCOPE, REPO, upload_id, None, chunks(b"two")) == 7
    await service.complete_upload(SCOPE, REPO, upload_id, str(Digest.of(b"one two")), None, None)


async def test_upload_completed_without_a_final_chunk_commits_what_was_sent(service: RegistryService) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"all of it"))

    digest = await service.complete_upload(SCOPE, REPO, upload_id, str(Digest.of(b"all of it")), None, None)

    assert await read(service, REPO, digest) == b"all of it"


@pytest.mark.parametrize("start_offset", [0, 3, 10], ids=["replayed", "overlapping", "gap"])
async def test_chunk_out_of_order_is_refused_and_the_upload_is_kept(
    service: RegistryService, start_offset: int
) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"12345"))

    with pytest.raises(RangeInvalid) as raised:
        await service.append_chunk(SCOPE, REPO, upload_id, start_offset, chunks(b"678"))

    assert raised.value.size == 5
    assert await service.upload_size(SCOPE, REPO, upload_id) == 5
    assert await service.append_chunk(SCOPE, REPO, upload_id, 5, chunks(b"678")) == 8


async def test_final_chunk_out_of_order_is_refused_and_the_upload_is_kept(service: RegistryService) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"12345"))

    with pytest.raises(RangeInvalid):
        await service.complete_upload(SCOPE, REPO, upload_id, str(Digest.of(b"12345678")), 2, chunks(b"678"))

    assert await service.upload_size(SCOPE, REPO, upload_id) == 5


async def test_completing_without_a_digest_is_refused_and_the_upload_is_kept(service: RegistryService) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"data"))

    with pytest.raises(DigestInvalid):
        await service.complete_upload(SCOPE, REPO, upload_id, None, None, None)
    with pytest.raises(DigestInvalid):
        await service.complete_upload(SCOPE, REPO, upload_id, "sha256:short", None, None)

    assert await service.upload_size(SCOPE, REPO, upload_id) == 4


async def test_completing_under_a_wrong_digest_is_refused_and_ends_the_upload(service: RegistryService) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"sent"))
    claimed = Digest.of(b"claimed")

    with pytest.raises(DigestInvalid):
        await service.complete_upload(SCOPE, REPO, upload_id, str(claimed), None, None)

    with pytest.raises(BlobUploadUnknown):
        await service.upload_size(SCOPE, REPO, upload_id)
    for digest in (claimed, Digest.of(b"sent")):
        with pytest.raises(BlobUnknown):
            await service.get_blob(SCOPE, REPO, str(digest))


async def test_cancelled_upload_is_gone(service: RegistryService) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"abandoned"))

    await service.cancel_upload(SCOPE, REPO, upload_id)

    with pytest.raises(BlobUploadUnknown):
        await service.upload_size(SCOPE, REPO, upload_id)
    with pytest.raises(BlobUploadUnknown):
        await service.append_chunk(SCOPE, REPO, upload_id, None, chunks(b"more"))
    with pytest.raises(BlobUploadUnknown):
        await service.cancel_upload(SCOPE, REPO, upload_id)


@pytest.mark.parametrize(
    "upload_id",
    ["not-a-uuid", "../../etc/passwd", str(uuid.uuid4()), str(uuid.uuid4()).upper(), "{" + str(uuid.uuid4()) + "}"],
)
async def test_upload_id_that_was_not_issued_is_unknown(service: RegistryService, upload_id: str) -> None:
    with pytest.raises(BlobUploadUnknown):
        await service.upload_size(SCOPE, REPO, upload_id)
    with pytest.raises(BlobUploadUnknown):
        await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"x"))


async def test_upload_is_unknown_to_another_repository(service: RegistryService) -> None:
    upload_id = await start(service, REPO)

    with pytest.raises(BlobUploadUnknown):
        await service.append_chunk(SCOPE, OTHER, upload_id, 0, chunks(b"x"))
    with pytest.raises(BlobUploadUnknown):
        await service.complete_upload(SCOPE, OTHER, upload_id, str(Digest.of(b"")), None, None)
    with pytest.raises(BlobUploadUnknown):
        await service.cancel_upload(SCOPE, OTHER, upload_id)
    assert await service.upload_size(SCOPE, REPO, upload_id) == 0


async def test_monolithic_upload_stores_the_blob_in_one_step(service: RegistryService) -> None:
    digest = await push_blob(service, REPO, b"monolithic")

    assert await read(service, REPO, digest) == b"monolithic"


async def test_monolithic_upload_under_a_wrong_digest_stores_nothing(service: RegistryService) -> None:
    with pytest.raises(DigestInvalid):
        await service.upload_blob(SCOPE, REPO, str(Digest.of(b"claimed")), chunks(b"sent"))

    with pytest.raises(BlobUnknown):
        await service.get_blob(SCOPE, REPO, str(Digest.of(b"sent")))


async def test_monolithic_upload_under_a_malformed_digest_starts_nothing(service: RegistryService) -> None:
    with pytest.raises(DigestInvalid):
        await service.upload_blob(SCOPE, "fresh/app", "sha256:nothex", chunks(b"sent"), PUSHER)

    assert (await service.list_repositories(SCOPE, None, None)).items == [REPO, OTHER]


@pytest.mark.parametrize("name", ["UPPER", "a//b", "-x", "a", "a" * 257])
async def test_invalid_repository_name_is_refused_everywhere(service: RegistryService, name: str) -> None:
    digest = str(Digest.of(b""))
    with pytest.raises(NameInvalid):
        await service.start_upload(SCOPE, name)
    with pytest.raises(NameInvalid):
        await service.get_blob(SCOPE, name, digest)
    with pytest.raises(NameInvalid):
        await service.get_manifest(SCOPE, name, "latest")
    with pytest.raises(NameInvalid):
        await service.put_manifest(SCOPE, name, "latest", b"{}", None)
    with pytest.raises(NameInvalid):
        await service.list_tags(SCOPE, name, None, None)
    with pytest.raises(NameInvalid):
        await service.upload_size(SCOPE, name, str(uuid.uuid4()))


# -- blobs and mounts ---------------------------------------------------------------------------------------


async def test_blob_is_served_only_from_repositories_it_is_linked_into(service: RegistryService) -> None:
    digest = await push_blob(service, REPO, b"private")

    with pytest.raises(BlobUnknown):
        await service.get_blob(SCOPE, OTHER, str(digest))


async def test_deleted_blob_is_unknown_to_the_repository(service: RegistryService) -> None:
    digest = await push_blob(service, REPO, b"deleted")

    await service.delete_blob(SCOPE, REPO, str(digest))

    with pytest.raises(BlobUnknown):
        await service.get_blob(SCOPE, REPO, str(digest))
    with pytest.raises(BlobUnknown):
        await service.delete_blob(SCOPE, REPO, str(digest))


async def test_malformed_blob_digest_is_refused(service: RegistryService) -> None:
    with pytest.raises(DigestInvalid):
        await service.get_blob(SCOPE, REPO, "sha256:xyz")


async def test_mount_from_a_repository_holding_the_blob_links_it_without_an_upload(service: RegistryService) -> None:
    digest = await push_blob(service, OTHER, b"shared layer")

    result = await service.start_upload(SCOPE, REPO, mount=str(digest), source=OTHER)

    assert result == BlobMounted(digest)
    assert await read(service, REPO, digest) == b"shared layer"


async def test_mount_from_a_repository_without_the_blob_starts_an_upload(service: RegistryService) -> None:
    digest = await push_blob(service, OTHER, b"elsewhere")

    result = await service.start_upload(SCOPE, REPO, mount=str(digest), source="third/repo")

    assert isinstance(result, UploadStarted)
    assert await service.upload_size(SCOPE, REPO, result.upload_id) == 0
    with pytest.raises(BlobUnknown):
        await service.get_blob(SCOPE, REPO, str(digest))


async def test_mount_without_a_source_finds_the_blob_in_any_repository(service: RegistryService) -> None:
    digest = await push_blob(service, OTHER, b"anywhere")

    assert await service.start_upload(SCOPE, REPO, mount=str(digest)) == BlobMounted(digest)


async def test_mount_without_a_source_is_declined_when_automatic_mounts_are_off(service: RegistryService) -> None:
    digest = await push_blob(service, OTHER, b"shared")

    result = await service.start_upload(SCOPE, REPO, mount=str(digest), automatic_mount=False)

    assert isinstance(result, UploadStarted)


async def test_mount_never_reaches_into_another_account_or_region(service: RegistryService) -> None:
    digest = await push_blob(service, OTHER, b"shared")

    for elsewhere in (OTHER_ACCOUNT, OTHER_REGION):
        mounted = await service.start_upload(elsewhere, REPO, mount=str(digest), pusher=PUSHER)
        assert isinstance(mounted, UploadStarted)
        from_source = await service.start_upload(elsewhere, REPO, mount=str(digest), source=OTHER, pusher=PUSHER)
        assert isinstance(from_source, UploadStarted)


async def test_an_upload_is_unknown_to_every_other_scope(service: RegistryService) -> None:
    upload_id = await start(service)

    for elsewhere in (OTHER_ACCOUNT, OTHER_REGION):
        with pytest.raises(BlobUploadUnknown):
            await service.upload_size(elsewhere, REPO, upload_id)
        with pytest.raises(BlobUploadUnknown):
            await service.complete_upload(elsewhere, REPO, upload_id, str(Digest.of(b"")), None, None)
    assert await service.upload_size(SCOPE, REPO, upload_id) == 0


async def test_a_get_of_a_manifest_is_recorded_as_a_pull_by_the_next_flush_at_most_once_a_minute(
    service: RegistryService, pulls: PullRecords
) -> None:
    content = encode(await pushed_image(service))
    await service.put_manifest(SCOPE, REPO, "latest", content, None)
    assert (await service.get_manifest(SCOPE, REPO, "latest")).pulled_at is None

    await service.get_manifest(SCOPE, REPO, "latest", pull=True)
    unflushed = (await service.get_manifest(SCOPE, REPO, "latest")).pulled_at
    await pulls.flush()
    first = (await service.get_manifest(SCOPE, REPO, "latest")).pulled_at
    await service.get_manifest(SCOPE, REPO, "latest", pull=True)
    await pulls.flush()
    second = (await service.get_manifest(SCOPE, REPO, "latest")).pulled_at

    assert unflushed is None
    assert first is not None
    assert second == first


async def test_a_pull_is_answered_and_kept_for_a_later_flush_when_the_database_refuses_the_write(
    service: RegistryService,
    metadata: MetadataStore,
    pulls: PullRecords,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    content = encode(await pushed_image(service))
    await service.put_manifest(SCOPE, REPO, "latest", content, None)

    async def disk_full(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(metadata, "record_pulls", disk_full)
        pulled = await service.get_manifest(SCOPE, REPO, "latest", pull=True)
        await pulls.flush()
    await pulls.flush()

    assert pulled.content == content
    assert "could not record 1 pulls" in caplog.text
    assert (await service.get_manifest(SCOPE, REPO, "latest")).pulled_at is not None


async def test_mount_of_an_unknown_blob_starts_an_upload(service: RegistryService) -> None:
    result = await service.start_upload(SCOPE, REPO, mount=str(Digest.of(b"nobody has it")), source=OTHER)

    assert isinstance(result, UploadStarted)


async def test_mount_of_a_malformed_digest_is_refused(service: RegistryService) -> None:
    with pytest.raises(DigestInvalid):
        await service.start_upload(SCOPE, REPO, mount="sha256:short", source=OTHER)


async def test_mount_from_an_invalid_source_name_is_refused(service: RegistryService) -> None:
    with pytest.raises(NameInvalid):
        await service.start_upload(SCOPE, REPO, mount=str(Digest.of(b"x")), source="Bad//Name")


# -- manifests ----------------------------------------------------------------------------------------------


async def test_manifest_pushed_by_tag_is_served_byte_for_byte_by_tag_and_digest(service: RegistryService) -> None:
    content = encode(await pushed_image(service)) + b"\n  "

    stored = await service.put_manifest(SCOPE, REPO, "latest", content, mediatypes.OCI_MANIFEST)

    assert stored.digest == Digest.of(content)
    for reference in ("latest", str(stored.digest)):
        found = await service.get_manifest(SCOPE, REPO, reference)
        assert (found.content, found.media_type, found.digest) == (content, mediatypes.OCI_MANIFEST, stored.digest)


async def test_manifest_pushed_by_its_digest_is_stored_untagged(service: RegistryService) -> None:
    content = encode(await pushed_image(service))

    stored = await service.put_manifest(SCOPE, REPO, str(Digest.of(content)), content, None)

    assert stored.digest == Digest.of(content)
    assert (await service.list_tags(SCOPE, REPO, None, None)).items == []


async def test_manifest_pushed_by_a_sha512_digest_is_stored_under_it(service: RegistryService) -> None:
    content = encode(await pushed_image(service))
    digest = Digest.of(content, "sha512")

    assert (await service.put_manifest(SCOPE, REPO, str(digest), content, None)).digest == digest
    assert (await service.get_manifest(SCOPE, REPO, str(digest))).content == content


async def test_manifest_pushed_under_another_digest_is_refused(service: RegistryService) -> None:
    content = encode(await pushed_image(service))

    with pytest.raises(DigestInvalid):
        await service.put_manifest(SCOPE, REPO, str(Digest.of(b"something else")), content, None)
    with pytest.raises(ManifestUnknown):
        await service.get_manifest(SCOPE, REPO, str(Digest.of(content)))


@pytest.mark.parametrize("tag", ["-dash", ".dot", "a" * 129, "a/b"])
async def test_manifest_pushed_under_an_invalid_tag_is_refused(service: RegistryService, tag: str) -> None:
    with pytest.raises(TagInvalid):
        await service.put_manifest(SCOPE, REPO, tag, encode(await pushed_image(service)), None)


async def test_manifest_over_the_limit_is_refused(service: RegistryService) -> None:
    document = await pushed_image(service)
    document["annotations"] = {"padding": "x" * MAX_MANIFEST}

    with pytest.raises(ManifestTooLarge):
        await service.put_manifest(SCOPE, REPO, "latest", encode(document), None)


async def test_manifest_exactly_at_the_limit_is_accepted(service: RegistryService) -> None:
    document = await pushed_image(service)
    document["annotations"] = {"padding": ""}
    document["annotations"]["padding"] = "x" * (MAX_MANIFEST - len(encode(document)))
    content = encode(document)
    assert len(content) == MAX_MANIFEST

    assert (await service.put_manifest(SCOPE, REPO, "latest", content, None)).digest == Digest.of(content)


async def test_manifest_that_is_not_json_is_refused(service: RegistryService) -> None:
    with pytest.raises(ManifestInvalid):
        await service.put_manifest(SCOPE, REPO, "latest", b"not json", None)


async def test_manifest_referencing_a_layer_not_in_the_repository_is_refused_naming_it(
    service: RegistryService,
) -> None:
    document = await pushed_image(service)
    missing = descriptor(b"never pushed", OCI_LAYER)
    document["layers"].append(missing)

    with pytest.raises(ManifestBlobUnknown) as raised:
        await service.put_manifest(SCOPE, REPO, "latest", encode(document), None)

    assert raised.value.detail == {"digest": missing["digest"]}
    with pytest.raises(ManifestUnknown):
        await service.get_manifest(SCOPE, REPO, "latest")


async def test_manifest_referencing_a_blob_of_another_repository_is_refused(service: RegistryService) -> None:
    document = await pushed_image(service, OTHER)

    with pytest.raises(ManifestBlobUnknown):
        await service.put_manifest(SCOPE, REPO, "latest", encode(document), None)


async def test_manifest_with_a_foreign_layer_needs_only_its_other_blobs(service: RegistryService) -> None:
    document = await pushed_image(service)
    document["layers"].insert(0, descriptor(b"base", DOCKER_FOREIGN_LAYER, urls=["https://example.com/base"]))

    stored = await service.put_manifest(SCOPE, REPO, "latest", encode(document), None)

    assert (await service.get_manifest(SCOPE, REPO, "latest")).digest == stored.digest


async def test_index_is_accepted_once_its_manifests_are_in_the_repository(service: RegistryService) -> None:
    child = encode(await pushed_image(service))
    document = index([descriptor(child, mediatypes.OCI_MANIFEST)])

    with pytest.raises(ManifestBlobUnknown):
        await service.put_manifest(SCOPE, REPO, "multi", encode(document), None)
    await service.put_manifest(SCOPE, REPO, str(Digest.of(child)), child, None)
    stored = await service.put_manifest(SCOPE, REPO, "multi", encode(document), None)

    assert (await service.get_manifest(SCOPE, REPO, "multi")).digest == stored.digest


async def test_manifest_with_a_subject_is_listed_as_its_referrer(service: RegistryService) -> None:
    image = encode(await pushed_image(service))
    subject = await service.put_manifest(SCOPE, REPO, "latest", image, None)
    empty = b"{}"
    await push_blob(service, REPO, empty)
    signature = image_manifest(
        descriptor(empty, mediatypes.OCI_EMPTY),
        [descriptor(empty, mediatypes.OCI_EMPTY)],
        artifactType=SIGNATURE,
        subject=descriptor(image, mediatypes.OCI_MANIFEST),
        annotations={"signed-by": "test"},
    )

    stored = await service.put_manifest(SCOPE, REPO, str(Digest.of(encode(signature))), encode(signature), None)

    assert stored.subject == subject.digest
    referrers = await service.list_referrers(SCOPE, REPO, str(subject.digest), None)
    assert referrers_index(referrers)["manifests"] == [
        {
            "mediaType": mediatypes.OCI_MANIFEST,
            "digest": str(stored.digest),
            "size": len(encode(signature)),
            "artifactType": SIGNATURE,
            "annotations": {"signed-by": "test"},
        }
    ]
    assert await service.list_referrers(SCOPE, REPO, str(subject.digest), SIGNATURE) == referrers
    assert await service.list_referrers(SCOPE, REPO, str(subject.digest), "application/other") == []


async def test_get_manifest_by_an_invalid_tag_is_unknown(service: RegistryService) -> None:
    with pytest.raises(ManifestUnknown):
        await service.get_manifest(SCOPE, REPO, "-not-a-tag")


async def test_deleting_a_tag_keeps_the_manifest(service: RegistryService) -> None:
    stored = await service.put_manifest(SCOPE, REPO, "latest", encode(await pushed_image(service)), None)

    await service.delete_manifest(SCOPE, REPO, "latest")

    with pytest.raises(ManifestUnknown):
        await service.get_manifest(SCOPE, REPO, "latest")
    assert (await service.get_manifest(SCOPE, REPO, str(stored.digest))).digest == stored.digest


async def test_deleting_a_manifest_by_digest_removes_its_tags(service: RegistryService) -> None:
    content = encode(await pushed_image(service))
    await service.put_manifest(SCOPE, REPO, "v1", content, None)
    stored = await service.put_manifest(SCOPE, REPO, "latest", content, None)

    await service.delete_manifest(SCOPE, REPO, str(stored.digest))

    for reference in ("v1", "latest", str(stored.digest)):
        with pytest.raises(ManifestUnknown):
            await service.get_manifest(SCOPE, REPO, reference)


async def test_deleting_what_is_not_there_is_unknown_and_a_bad_reference_invalid(service: RegistryService) -> None:
    await service.put_manifest(SCOPE, REPO, "latest", encode(await pushed_image(service)), None)

    with pytest.raises(ManifestUnknown):
        await service.delete_manifest(SCOPE, REPO, "v0")
    with pytest.raises(ManifestUnknown):
        await service.delete_manifest(SCOPE, REPO, str(Digest.of(b"never")))
    with pytest.raises(TagInvalid):
        await service.delete_manifest(SCOPE, REPO, "-bad")
    with pytest.raises(DigestInvalid):
        await service.delete_manifest(SCOPE, REPO, "sha256:bad")


# -- paging -------------------------------------------------------------------------------------------------


async def tagged(service: RegistryService, tags: list[str]) -> None:
    content = encode(await pushed_image(service))
    for tag in tags:
        await service.put_manifest(SCOPE, REPO, tag, content, None)


async def test_tags_come_in_pages_that_name_where_the_next_starts(service: RegistryService) -> None:
    await tagged(service, ["e", "d", "c", "b", "a"])

    first = await service.list_tags(SCOPE, REPO, 2, None)
    second = await service.list_tags(SCOPE, REPO, 2, first.last)
    third = await service.list_tags(SCOPE, REPO, 2, second.last)

    assert first == Page(["a", "b"], "b")
    assert second == Page(["c", "d"], "d")
    assert third == Page(["e"], None)


async def test_page_that_ends_exactly_at_the_last_tag_names_no_next_page(service: RegistryService) -> None:
    await tagged(service, ["a", "b", "c", "d"])

    assert await service.list_tags(SCOPE, REPO, 4, None) == Page(["a", "b", "c", "d"], None)
    assert await service.list_tags(SCOPE, REPO, 2, "b") == Page(["c", "d"], None)


async def test_unpaged_tags_list_everything_with_no_next_page(service: RegistryService) -> None:
    await tagged(service, ["b", "a", "c"])

    assert await service.list_tags(SCOPE, REPO, None, None) == Page(["a", "b", "c"], None)
    assert await service.list_tags(SCOPE, REPO, None, "a") == Page(["b", "c"], None)


async def test_page_of_zero_tags_is_empty_with_no_next_page(service: RegistryService) -> None:
    await tagged(service, ["a"])

    assert await service.list_tags(SCOPE, REPO, 0, None) == Page([], None)


async def test_tags_of_an_unknown_repository_are_name_unknown(service: RegistryService) -> None:
    with pytest.raises(NameUnknown):
        await service.list_tags(SCOPE, "never/pushed", None, None)


async def test_repositories_come_in_pages_that_name_where_the_next_starts(service: RegistryService) -> None:
    for name in ["cc", "aa/x", "bb", "aa"]:
        await push_blob(service, name, b"blob")

    first = await service.list_repositories(SCOPE, 4, None)
    second = await service.list_repositories(SCOPE, 4, first.last)

    assert first == Page(["aa", "aa/x", "bb", "cc"], "cc")
    assert second == Page([REPO, OTHER], None)
    assert await service.list_repositories(SCOPE, 6, None) == Page(["aa", "aa/x", "bb", "cc", REPO, OTHER], None)


# -- repositories that do not exist: ECR's create on push, and NAME_UNKNOWN ------------------------------------

MISSING: Final = "fresh/app"
EMPTY_INDEX: Final = encode(index([]))


def missing_repository(repository: str = MISSING) -> str:
    return f"The repository with name '{repository}' does not exist in the registry with id '{SCOPE.account_id}'"


async def test_a_push_creates_its_repository_when_a_template_covers_it_and_the_pusher_may(
    service: RegistryService, repositories: SqlRepositories
) -> None:
    pusher = AnyPusher()

    started = await service.start_upload(SCOPE, MISSING, pusher=pusher)

    assert isinstance(started, UploadStarted)
    assert pusher.asked == [MISSING]
    assert repositories.created == [(SCOPE, MISSING)]
    assert MISSING in (await service.list_repositories(SCOPE, None, None)).items
    await service.start_upload(SCOPE, MISSING, pusher=pusher)
    assert pusher.asked == [MISSING]  # it exists now: nothing more to ask


@pytest.mark.parametrize("step", ["start", "mount", "monolithic", "manifest"])
async def test_without_a_template_a_push_to_a_missing_repository_is_name_unknown_at_every_step(
    service: RegistryService, repositories: SqlRepositories, step: str
) -> None:
    repositories.covers = False
    digest = await push_blob(service, OTHER, b"shared")
    pusher = AnyPusher()
    pushes: dict[str, Callable[[], Awaitable[object]]] = {
        "start": lambda: service.start_upload(SCOPE, MISSING, pusher=pusher),
        "mount": lambda: service.start_upload(SCOPE, MISSING, str(digest), OTHER, pusher=pusher),
        "monolithic": lambda: service.upload_blob(SCOPE, MISSING, str(digest), chunks(b"shared"), pusher),
        "manifest": lambda: service.put_manifest(SCOPE, MISSING, "v1", EMPTY_INDEX, mediatypes.OCI_INDEX, pusher),
    }

    with pytest.raises(NameUnknown) as raised:
        await pushes[step]()

    assert raised.value.message == missing_repository()
    assert raised.value.detail == {"name": MISSING}
    assert pusher.asked == []
    assert MISSING not in (await service.list_repositories(SCOPE, None, None)).items


async def test_a_pusher_refused_creation_creates_nothing(
    service: RegistryService, repositories: SqlRepositories
) -> None:
    pusher = AnyPusher(Denied("not authorized to perform: ecr:CreateRepository"))

    with pytest.raises(Denied):
        await service.put_manifest(SCOPE, MISSING, "v1", EMPTY_INDEX, mediatypes.OCI_INDEX, pusher)

    assert pusher.asked == [MISSING]
    assert repositories.created == []
    assert MISSING not in (await service.list_repositories(SCOPE, None, None)).items


async def test_a_write_without_a_pusher_never_creates_a_repository(service: RegistryService) -> None:
    """What ECR's own operations (InitiateLayerUpload, PutImage) reach: they create nothing, template or not."""
    with pytest.raises(NameUnknown):
        await service.start_upload(SCOPE, MISSING)
    with pytest.raises(NameUnknown):
        await service.store_manifest(SCOPE, MISSING, Digest.of(EMPTY_INDEX), "v1", EMPTY_INDEX, None)

    assert MISSING not in (await service.list_repositories(SCOPE, None, None)).items


async def test_a_pull_from_a_missing_repository_is_name_unknown(service: RegistryService) -> None:
    digest = str(Digest.of(b"anything"))
    pulls = [
        service.get_manifest(SCOPE, MISSING, "latest"),
        service.get_manifest(SCOPE, MISSING, digest),
        service.get_manifest(SCOPE, MISSING, "-not-a-tag"),
        service.get_blob(SCOPE, MISSING, digest),
        service.list_tags(SCOPE, MISSING, None, None),
        service.delete_manifest(SCOPE, MISSING, digest),
        service.delete_blob(SCOPE, MISSING, digest),
    ]

    for pull in pulls:
        with pytest.raises(NameUnknown) as raised:
            await pull
        assert raised.value.message == missing_repository()
    # The referrers API answers an empty index instead: the OCI spec forbids a 404 there.
    assert await service.list_referrers(SCOPE, MISSING, digest, None) == []


async def test_a_pull_of_what_an_existing_repository_lacks_stays_unknown_content(service: RegistryService) -> None:
    digest = str(Digest.of(b"anything"))

    with pytest.raises(ManifestUnknown):
        await service.get_manifest(SCOPE, REPO, "latest")
    with pytest.raises(BlobUnknown):
        await service.get_blob(SCOPE, REPO, digest)
    assert await service.list_referrers(SCOPE, REPO, digest, None) == []


# -- a full disk ----------------------------------------------------------------------------------------------


def disk_full(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("final", [False, True], ids=["patch", "put"])
async def test_a_chunk_refused_for_lack_of_space_ends_the_upload_and_its_session(
    service: RegistryService,
    metadata: MetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    final: bool,
) -> None:
    upload_id = await start(service)
    await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"first"))
    monkeypatch.setattr(filesystem._Progress, "write", disk_full)

    refused = (
        service.complete_upload(SCOPE, REPO, upload_id, str(Digest.of(b"first, last")), 5, chunks(b", last"))
        if final
        else service.append_chunk(SCOPE, REPO, upload_id, 5, chunks(b"second"))
    )
    with pytest.raises(StorageFull, match="started again"):
        await refused

    assert os.listdir(tmp_path / "blobs" / "uploads") == []
    assert await metadata.find_upload(SCOPE, upload_id) is None
    with pytest.raises(BlobUploadUnknown):
        await service.upload_size(SCOPE, REPO, upload_id)


async def test_a_blob_in_one_request_refused_for_lack_of_space_leaves_nothing(
    service: RegistryService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filesystem._Progress, "write", disk_full)

    with pytest.raises(StorageFull):
        await push_blob(service, REPO, b"no room for it")

    assert os.listdir(tmp_path / "blobs" / "uploads") == []


async def test_an_upload_whose_session_cannot_be_recorded_leaves_no_staged_file(
    service: RegistryService, metadata: MetadataStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_full(*_: object) -> None:
        raise StorageFull()

    monkeypatch.setattr(metadata, "create_upload", database_full)

    with pytest.raises(StorageFull):
        await start(service)

    assert os.listdir(tmp_path / "blobs" / "uploads") == []


async def test_when_the_session_of_a_refused_upload_cannot_be_deleted_its_bytes_go_and_it_stays_unknown(
    service: RegistryService,
    metadata: MetadataStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload_id = await start(service)

    async def database_full(*_: object) -> None:
        raise StorageFull()

    monkeypatch.setattr(filesystem._Progress, "write", disk_full)
    monkeypatch.setattr(metadata, "delete_upload", database_full)
    with pytest.raises(StorageFull, match="started again"):
        await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"no room"))

    assert os.listdir(tmp_path / "blobs" / "uploads") == []
    assert "stays until it expires" in caplog.text
    with pytest.raises(BlobUploadUnknown):
        await service.append_chunk(SCOPE, REPO, upload_id, 0, chunks(b"again"))
