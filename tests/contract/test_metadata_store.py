"""The MetadataStore contract: repositories, blob links, manifests, tags, referrers and upload sessions.

Every test runs over every adapter (see conftest.py). The store creates no repository: REPO and OTHER are created
in SCOPE before each test (as ECR's CreateRepository creates them), and a test needing others creates them.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Final

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.registry.errors import NameUnknown
from pullcache.registry.ports import ManifestRecord, MetadataStore, UploadRecord
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule
from tests.stores import SqlRepositories, sqlite_repositories

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_ACCOUNT: Final = RegistryScope("210987654321", "us-east-1")
OTHER_REGION: Final = RegistryScope("123456789012", "eu-west-1")
LISTED: Final = RegistryScope("123456789012", "ap-south-1")  # no repository until a test creates some
REPO: Final = "library/app"
OTHER: Final = "team/other"
SIGNATURE: Final = "application/vnd.example.signature.v1+json"
SBOM: Final = "application/vnd.example.sbom.v1+json"

# The methods this suite covers; a method added to the port must be added here, with its tests.
COVERED_METHODS: Final = {
    "list_repositories",
    "repository_exists",
    "link_blob",
    "find_blob_size",
    "find_any_blob_size",
    "unlink_blob",
    "missing_blobs",
    "missing_manifests",
    "put_manifest",
    "find_manifest",
    "delete_manifest",
    "delete_tag",
    "list_tags",
    "list_referrers",
    "create_upload",
    "find_upload",
    "delete_upload",
    "list_uploads_started_before",
    "find_tag_mutability",
    "mark_tag_checked",
}


def blob(name: str) -> Digest:
    return Digest.of(name.encode())


def manifest(
    name: str,
    subject: Digest | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
) -> ManifestRecord:
    content = f'{{"schemaVersion": 2, "name": "{name}"}}'.encode()
    return ManifestRecord(Digest.of(content), mediatypes.OCI_MANIFEST, content, subject, artifact_type, annotations)


def upload(repository: str = REPO, started_at: datetime | None = None) -> UploadRecord:
    return UploadRecord(str(uuid.uuid4()), SCOPE, repository, started_at or datetime.now(UTC))


@pytest.fixture(autouse=True)
async def repositories(tmp_path: Path, metadata_store: MetadataStore) -> AsyncIterator[SqlRepositories]:
    async with sqlite_repositories(tmp_path) as created:
        await created.create(SCOPE, REPO, OTHER)
        yield created


def test_suite_covers_every_method_of_the_port() -> None:
    methods = {name for name, _ in inspect.getmembers(MetadataStore, inspect.isfunction) if not name.startswith("_")}

    assert methods == COVERED_METHODS


# -- repositories -------------------------------------------------------------------------------------------


async def test_only_created_repositories_exist(metadata_store: MetadataStore) -> None:
    assert list(await metadata_store.list_repositories(SCOPE, None, None)) == [REPO, OTHER]
    assert await metadata_store.repository_exists(SCOPE, REPO)
    assert not await metadata_store.repository_exists(SCOPE, "never/seen")
    assert list(await metadata_store.list_repositories(LISTED, None, None)) == []


async def test_a_blob_link_into_a_missing_repository_links_nothing_and_creates_nothing(
    metadata_store: MetadataStore,
) -> None:
    await metadata_store.link_blob(SCOPE, "never/seen", blob("a"), 1)
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 1)  # in the same batch or the next: unaffected

    assert not await metadata_store.repository_exists(SCOPE, "never/seen")
    assert await metadata_store.find_blob_size(SCOPE, "never/seen", blob("a")) is None
    assert await metadata_store.find_blob_size(SCOPE, REPO, blob("a")) == 1


async def test_a_manifest_into_a_missing_repository_is_name_unknown(metadata_store: MetadataStore) -> None:
    with pytest.raises(NameUnknown) as raised:
        await metadata_store.put_manifest(SCOPE, "never/seen", manifest("m"), "latest")

    assert raised.value.detail == {"name": "never/seen"}
    assert raised.value.registry_id == SCOPE.account_id
    assert not await metadata_store.repository_exists(SCOPE, "never/seen")
    assert await metadata_store.find_manifest(SCOPE, "never/seen", "latest") is None


async def test_upload_session_does_not_create_the_repository(metadata_store: MetadataStore) -> None:
    await metadata_store.create_upload(upload("never/seen"))

    assert not await metadata_store.repository_exists(SCOPE, "never/seen")


async def test_repositories_are_listed_in_lexical_order_and_paged(
    metadata_store: MetadataStore, repositories: SqlRepositories
) -> None:
    names = ["b/two", "a", "b", "c10", "c9", "b/one"]
    await repositories.create(LISTED, *names)

    assert list(await metadata_store.list_repositories(LISTED, None, None)) == sorted(names)
    assert list(await metadata_store.list_repositories(LISTED, 2, None)) == ["a", "b"]
    assert list(await metadata_store.list_repositories(LISTED, 2, "b")) == ["b/one", "b/two"]
    assert list(await metadata_store.list_repositories(LISTED, None, "c10")) == ["c9"]
    assert list(await metadata_store.list_repositories(LISTED, 5, "c9")) == []
    assert list(await metadata_store.list_repositories(LISTED, 10, "aa")) == ["b", "b/one", "b/two", "c10", "c9"]


# -- blobs --------------------------------------------------------------------------------------------------


async def test_linked_blob_has_its_size_in_its_repository_only(metadata_store: MetadataStore) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 1234)
    await metadata_store.link_blob(SCOPE, OTHER, blob("b"), 1)

    assert await metadata_store.find_blob_size(SCOPE, REPO, blob("a")) == 1234
    assert await metadata_store.find_blob_size(SCOPE, OTHER, blob("a")) is None
    assert await metadata_store.find_blob_size(SCOPE, "never/seen", blob("a")) is None
    assert await metadata_store.find_blob_size(SCOPE, REPO, blob("unknown")) is None


async def test_linking_a_blob_again_is_idempotent(metadata_store: MetadataStore) -> None:
    for _ in range(3):
        await metadata_store.link_blob(SCOPE, REPO, blob("a"), 10)

    assert await metadata_store.find_blob_size(SCOPE, REPO, blob("a")) == 10
    assert await metadata_store.unlink_blob(SCOPE, REPO, blob("a"))
    assert await metadata_store.find_blob_size(SCOPE, REPO, blob("a")) is None


async def test_blob_of_any_repository_is_found_by_digest(metadata_store: MetadataStore) -> None:
    await metadata_store.link_blob(SCOPE, OTHER, blob("a"), 77)

    assert await metadata_store.find_any_blob_size(SCOPE, blob("a")) == 77
    assert await metadata_store.find_any_blob_size(SCOPE, blob("unknown")) is None


async def test_blob_linked_into_two_repositories_stays_in_one_when_unlinked_from_the_other(
    metadata_store: MetadataStore,
) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 5)
    await metadata_store.link_blob(SCOPE, OTHER, blob("a"), 5)

    assert await metadata_store.unlink_blob(SCOPE, REPO, blob("a"))

    assert await metadata_store.find_blob_size(SCOPE, REPO, blob("a")) is None
    assert await metadata_store.find_blob_size(SCOPE, OTHER, blob("a")) == 5
    assert await metadata_store.find_any_blob_size(SCOPE, blob("a")) == 5


async def test_blob_unlinked_everywhere_is_not_found_by_digest(metadata_store: MetadataStore) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 5)
    await metadata_store.unlink_blob(SCOPE, REPO, blob("a"))

    assert await metadata_store.find_any_blob_size(SCOPE, blob("a")) is None


async def test_unlinking_what_is_not_linked_reports_false(metadata_store: MetadataStore) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 5)

    assert not await metadata_store.unlink_blob(SCOPE, REPO, blob("b"))
    assert not await metadata_store.unlink_blob(SCOPE, "never/seen", blob("a"))
    assert await metadata_store.unlink_blob(SCOPE, REPO, blob("a"))
    assert not await metadata_store.unlink_blob(SCOPE, REPO, blob("a"))


async def test_missing_blobs_are_those_not_linked_into_the_repository_in_the_order_asked(
    metadata_store: MetadataStore,
) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("have"), 1)
    await metadata_store.link_blob(SCOPE, OTHER, blob("elsewhere"), 1)
    asked = [blob("z-missing"), blob("have"), blob("elsewhere"), blob("a-missing")]

    assert list(await metadata_store.missing_blobs(SCOPE, REPO, asked)) == [
        blob("z-missing"),
        blob("elsewhere"),
        blob("a-missing"),
    ]
    assert list(await metadata_store.missing_blobs(SCOPE, REPO, [])) == []
    assert list(await metadata_store.missing_blobs(SCOPE, "never/seen", [blob("have")])) == [blob("have")]


async def test_missing_manifests_are_those_not_stored_in_the_repository(metadata_store: MetadataStore) -> None:
    here, elsewhere = manifest("here"), manifest("elsewhere")
    await metadata_store.put_manifest(SCOPE, REPO, here, None)
    await metadata_store.put_manifest(SCOPE, OTHER, elsewhere, None)
    await metadata_store.link_blob(SCOPE, REPO, blob("a blob, not a manifest"), 1)
    asked = [elsewhere.digest, here.digest, blob("a blob, not a manifest")]

    assert list(await metadata_store.missing_manifests(SCOPE, REPO, asked)) == [
        elsewhere.digest,
        blob("a blob, not a manifest"),
    ]
    assert list(await metadata_store.missing_manifests(SCOPE, REPO, [])) == []


# -- manifests and tags -------------------------------------------------------------------------------------


async def test_manifest_is_found_by_digest_and_by_tag_as_stored(metadata_store: MetadataStore) -> None:
    record = manifest("m", subject=blob("s"), artifact_type=SIGNATURE, annotations={"k": "v", "empty": ""})

    await metadata_store.put_manifest(SCOPE, REPO, record, "latest")

    assert await metadata_store.find_manifest(SCOPE, REPO, record.digest) == record
    assert await metadata_store.find_manifest(SCOPE, REPO, "latest") == record


async def test_a_tag_remembers_when_it_was_last_checked_and_a_digest_lookup_does_not_say(
    metadata_store: MetadataStore,
) -> None:
    record = manifest("checked")
    await metadata_store.put_manifest(SCOPE, REPO, record, "latest")
    found = await metadata_store.find_manifest(SCOPE, REPO, "latest")
    assert found is not None
    assert found.tag_checked_at is None
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    await metadata_store.mark_tag_checked(SCOPE, REPO, "latest", at)

    by_tag = await metadata_store.find_manifest(SCOPE, REPO, "latest")
    by_digest = await metadata_store.find_manifest(SCOPE, REPO, record.digest)
    assert by_tag is not None
    assert by_tag.tag_checked_at == at
    assert by_digest is not None
    assert by_digest.tag_checked_at is None
    await metadata_store.mark_tag_checked(OTHER_REGION, REPO, "latest", at + timedelta(days=1))
    again = await metadata_store.find_manifest(SCOPE, REPO, "latest")
    assert again is not None
    assert again.tag_checked_at == at


async def test_manifest_without_optional_fields_round_trips(metadata_store: MetadataStore) -> None:
    record = manifest("plain")

    await metadata_store.put_manifest(SCOPE, REPO, record, None)

    assert await metadata_store.find_manifest(SCOPE, REPO, record.digest) == record


async def test_manifest_is_not_found_in_another_repository_or_under_another_tag(metadata_store: MetadataStore) -> None:
    record = manifest("m")
    await metadata_store.put_manifest(SCOPE, REPO, record, "latest")

    assert await metadata_store.find_manifest(SCOPE, OTHER, record.digest) is None
    assert await metadata_store.find_manifest(SCOPE, OTHER, "latest") is None
    assert await metadata_store.find_manifest(SCOPE, REPO, "other") is None
    assert await metadata_store.find_manifest(SCOPE, REPO, manifest("never stored").digest) is None


async def test_manifest_pushed_by_digest_gets_no_tag(metadata_store: MetadataStore) -> None:
    await metadata_store.put_manifest(SCOPE, REPO, manifest("m"), None)

    assert await metadata_store.list_tags(SCOPE, REPO, None, None) == []


async def test_storing_a_manifest_again_is_idempotent(metadata_store: MetadataStore) -> None:
    record = manifest("m", subject=blob("s"))

    await metadata_store.put_manifest(SCOPE, REPO, record, None)
    await metadata_store.put_manifest(SCOPE, REPO, record, "v1")
    await metadata_store.put_manifest(SCOPE, REPO, record, "v1")

    assert await metadata_store.find_manifest(SCOPE, REPO, "v1") == record
    assert list(await metadata_store.list_referrers(SCOPE, REPO, blob("s"))) == [record]


async def test_tag_moves_to_the_manifest_pushed_last(metadata_store: MetadataStore) -> None:
    old, new = manifest("old"), manifest("new")
    await metadata_store.put_manifest(SCOPE, REPO, old, "latest")

    await metadata_store.put_manifest(SCOPE, REPO, new, "latest")

    assert await metadata_store.find_manifest(SCOPE, REPO, "latest") == new
    assert await metadata_store.find_manifest(SCOPE, REPO, old.digest) == old
    assert list(await metadata_store.list_tags(SCOPE, REPO, None, None) or []) == ["latest"]


async def test_tags_are_per_repository(metadata_store: MetadataStore) -> None:
    mine, theirs = manifest("mine"), manifest("theirs")
    await metadata_store.put_manifest(SCOPE, REPO, mine, "latest")
    await metadata_store.put_manifest(SCOPE, OTHER, theirs, "latest")

    assert await metadata_store.find_manifest(SCOPE, REPO, "latest") == mine
    assert await metadata_store.find_manifest(SCOPE, OTHER, "latest") == theirs


async def test_deleting_a_manifest_deletes_every_tag_pointing_at_it(metadata_store: MetadataStore) -> None:
    doomed, kept = manifest("doomed"), manifest("kept")
    for tag in ("v1", "v1.0", "latest"):
        await metadata_store.put_manifest(SCOPE, REPO, doomed, tag)
    await metadata_store.put_manifest(SCOPE, REPO, kept, "stable")

    assert await metadata_store.delete_manifest(SCOPE, REPO, doomed.digest)

    assert await metadata_store.find_manifest(SCOPE, REPO, doomed.digest) is None
    for tag in ("v1", "v1.0", "latest"):
        assert await metadata_store.find_manifest(SCOPE, REPO, tag) is None
    assert list(await metadata_store.list_tags(SCOPE, REPO, None, None) or []) == ["stable"]
    assert await metadata_store.find_manifest(SCOPE, REPO, "stable") == kept


async def test_deleting_a_manifest_leaves_other_repositories_alone(metadata_store: MetadataStore) -> None:
    record = manifest("shared")
    await metadata_store.put_manifest(SCOPE, REPO, record, "latest")
    await metadata_store.put_manifest(SCOPE, OTHER, record, "latest")

    await metadata_store.delete_manifest(SCOPE, REPO, record.digest)

    assert await metadata_store.find_manifest(SCOPE, OTHER, "latest") == record


async def test_deleting_a_manifest_that_is_not_there_reports_false(metadata_store: MetadataStore) -> None:
    record = manifest("m")
    await metadata_store.put_manifest(SCOPE, REPO, record, None)

    assert not await metadata_store.delete_manifest(SCOPE, "never/seen", record.digest)
    assert not await metadata_store.delete_manifest(SCOPE, REPO, manifest("other").digest)
    assert await metadata_store.delete_manifest(SCOPE, REPO, record.digest)
    assert not await metadata_store.delete_manifest(SCOPE, REPO, record.digest)


async def test_deleting_a_tag_keeps_the_manifest_and_its_other_tags(metadata_store: MetadataStore) -> None:
    record = manifest("m")
    await metadata_store.put_manifest(SCOPE, REPO, record, "v1")
    await metadata_store.put_manifest(SCOPE, REPO, record, "latest")

    assert await metadata_store.delete_tag(SCOPE, REPO, "latest")

    assert await metadata_store.find_manifest(SCOPE, REPO, "latest") is None
    assert await metadata_store.find_manifest(SCOPE, REPO, "v1") == record
    assert await metadata_store.find_manifest(SCOPE, REPO, record.digest) == record


async def test_deleting_a_tag_that_is_not_there_reports_false(metadata_store: MetadataStore) -> None:
    await metadata_store.put_manifest(SCOPE, REPO, manifest("m"), "v1")

    assert not await metadata_store.delete_tag(SCOPE, REPO, "v2")
    assert not await metadata_store.delete_tag(SCOPE, "never/seen", "v1")
    assert not await metadata_store.delete_tag(SCOPE, OTHER, "v1")


async def test_tags_of_an_unknown_repository_are_none(metadata_store: MetadataStore) -> None:
    assert await metadata_store.list_tags(SCOPE, "never/seen", None, None) is None


async def test_repository_without_tags_lists_none(metadata_store: MetadataStore) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 1)

    assert await metadata_store.list_tags(SCOPE, REPO, None, None) == []


async def test_tags_are_listed_in_lexical_order_and_paged(metadata_store: MetadataStore) -> None:
    tags = ["v9", "latest", "v10", "1.0", "v1", "v1.0-rc"]
    for tag in tags:
        await metadata_store.put_manifest(SCOPE, REPO, manifest(tag), tag)

    assert await metadata_store.list_tags(SCOPE, REPO, None, None) == sorted(tags)
    assert await metadata_store.list_tags(SCOPE, REPO, 2, None) == ["1.0", "latest"]
    assert await metadata_store.list_tags(SCOPE, REPO, 2, "latest") == ["v1", "v1.0-rc"]
    assert await metadata_store.list_tags(SCOPE, REPO, None, "v10") == ["v9"]
    assert await metadata_store.list_tags(SCOPE, REPO, 3, "v9") == []
    assert await metadata_store.list_tags(SCOPE, REPO, 0, None) == []


# -- referrers ----------------------------------------------------------------------------------------------


async def test_referrers_are_the_manifests_whose_subject_is_the_digest_in_the_order_pushed(
    metadata_store: MetadataStore,
) -> None:
    image = manifest("image")
    referrers = [
        manifest("signature", subject=image.digest, artifact_type=SIGNATURE),
        manifest("sbom", subject=image.digest, artifact_type=SBOM, annotations={"created": "now"}),
        manifest("second signature", subject=image.digest, artifact_type=SIGNATURE),
    ]
    await metadata_store.put_manifest(SCOPE, REPO, image, "latest")
    for referrer in referrers:
        await metadata_store.put_manifest(SCOPE, REPO, referrer, None)
    await metadata_store.put_manifest(SCOPE, REPO, manifest("unrelated", subject=blob("other")), None)

    assert list(await metadata_store.list_referrers(SCOPE, REPO, image.digest)) == referrers


async def test_referrers_are_per_repository(metadata_store: MetadataStore) -> None:
    subject = manifest("image").digest
    await metadata_store.put_manifest(SCOPE, OTHER, manifest("signature", subject=subject), None)

    assert list(await metadata_store.list_referrers(SCOPE, REPO, subject)) == []


async def test_subject_need_not_exist_for_its_referrers_to_be_listed(metadata_store: MetadataStore) -> None:
    referrer = manifest("early signature", subject=blob("not pushed yet"), artifact_type=SIGNATURE)
    await metadata_store.put_manifest(SCOPE, REPO, referrer, None)

    assert list(await metadata_store.list_referrers(SCOPE, REPO, blob("not pushed yet"))) == [referrer]


async def test_deleted_referrer_is_no_longer_listed(metadata_store: MetadataStore) -> None:
    referrer = manifest("signature", subject=blob("image"))
    await metadata_store.put_manifest(SCOPE, REPO, referrer, None)

    await metadata_store.delete_manifest(SCOPE, REPO, referrer.digest)

    assert list(await metadata_store.list_referrers(SCOPE, REPO, blob("image"))) == []


# -- upload sessions ----------------------------------------------------------------------------------------


async def test_upload_session_is_found_as_created(metadata_store: MetadataStore) -> None:
    session = upload()

    await metadata_store.create_upload(session)

    assert await metadata_store.find_upload(SCOPE, session.upload_id) == session


async def test_upload_start_time_comes_back_as_the_same_instant_with_a_time_zone(
    metadata_store: MetadataStore,
) -> None:
    started = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    session = upload(started_at=started)

    await metadata_store.create_upload(session)
    found = await metadata_store.find_upload(SCOPE, session.upload_id)

    assert found is not None
    assert found.started_at.tzinfo is not None
    assert found.started_at == started


async def test_unknown_upload_session_is_not_found(metadata_store: MetadataStore) -> None:
    assert await metadata_store.find_upload(SCOPE, str(uuid.uuid4())) is None


async def test_deleted_upload_session_is_gone_and_deleting_again_is_harmless(metadata_store: MetadataStore) -> None:
    session, kept = upload(), upload()
    await metadata_store.create_upload(session)
    await metadata_store.create_upload(kept)

    await metadata_store.delete_upload(session.upload_id)
    await metadata_store.delete_upload(session.upload_id)
    await metadata_store.delete_upload(str(uuid.uuid4()))

    assert await metadata_store.find_upload(SCOPE, session.upload_id) is None
    assert await metadata_store.find_upload(SCOPE, kept.upload_id) == kept


async def test_uploads_started_before_a_cutoff_are_listed_oldest_first(metadata_store: MetadataStore) -> None:
    now = datetime.now(UTC)
    week_old = upload(started_at=now - timedelta(days=7))
    day_old = upload(OTHER, started_at=now - timedelta(days=1))
    fresh = upload(started_at=now)
    for session in (day_old, fresh, week_old):
        await metadata_store.create_upload(session)

    cutoff = now - timedelta(hours=1)
    assert list(await metadata_store.list_uploads_started_before(cutoff)) == [week_old.upload_id, day_old.upload_id]
    assert list(await metadata_store.list_uploads_started_before(now - timedelta(days=30))) == []


async def test_upload_cutoff_in_another_time_zone_means_the_same_instant(metadata_store: MetadataStore) -> None:
    started = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    session = upload(started_at=started)
    await metadata_store.create_upload(session)
    tokyo = timezone(timedelta(hours=9))

    just_after = (started + timedelta(minutes=1)).astimezone(tokyo)
    just_before = (started - timedelta(minutes=1)).astimezone(tokyo)

    assert list(await metadata_store.list_uploads_started_before(just_after)) == [session.upload_id]
    assert list(await metadata_store.list_uploads_started_before(just_before)) == []


async def test_each_upload_session_is_its_own(metadata_store: MetadataStore) -> None:
    sessions = [upload(), upload(OTHER), upload()]
    for session in sessions:
        await metadata_store.create_upload(session)

    assert [await metadata_store.find_upload(SCOPE, s.upload_id) for s in sessions] == sessions


# -- registry scopes ----------------------------------------------------------------------------------------


async def test_a_repository_is_seen_only_in_its_own_account_and_region(metadata_store: MetadataStore) -> None:
    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 5)
    await metadata_store.put_manifest(SCOPE, REPO, manifest("m"), "latest")

    for elsewhere in (OTHER_ACCOUNT, OTHER_REGION):
        assert not await metadata_store.repository_exists(elsewhere, REPO)
        assert list(await metadata_store.list_repositories(elsewhere, None, None)) == []
        assert await metadata_store.find_blob_size(elsewhere, REPO, blob("a")) is None
        assert await metadata_store.find_any_blob_size(elsewhere, blob("a")) is None
        assert await metadata_store.find_manifest(elsewhere, REPO, "latest") is None
        assert await metadata_store.find_manifest(elsewhere, REPO, manifest("m").digest) is None
        assert await metadata_store.list_tags(elsewhere, REPO, None, None) is None
        assert await metadata_store.find_tag_mutability(elsewhere, REPO) is None
        assert await metadata_store.missing_blobs(elsewhere, REPO, [blob("a")]) == [blob("a")]


async def test_the_same_name_in_two_scopes_is_two_repositories(
    metadata_store: MetadataStore, repositories: SqlRepositories
) -> None:
    await repositories.create(OTHER_ACCOUNT, REPO)
    await metadata_store.put_manifest(SCOPE, REPO, manifest("ours"), "latest")
    await metadata_store.put_manifest(OTHER_ACCOUNT, REPO, manifest("theirs"), "latest")

    ours = await metadata_store.find_manifest(SCOPE, REPO, "latest")
    theirs = await metadata_store.find_manifest(OTHER_ACCOUNT, REPO, "latest")
    assert ours == manifest("ours")
    assert theirs == manifest("theirs")
    assert await metadata_store.delete_tag(OTHER_ACCOUNT, REPO, "latest")
    assert await metadata_store.find_manifest(SCOPE, REPO, "latest") == manifest("ours")
    assert not await metadata_store.delete_manifest(OTHER_REGION, REPO, manifest("ours").digest)
    assert not await metadata_store.unlink_blob(OTHER_REGION, REPO, blob("a"))


async def test_an_upload_session_is_found_only_in_its_scope(metadata_store: MetadataStore) -> None:
    session = upload(REPO)
    await metadata_store.create_upload(session)

    assert await metadata_store.find_upload(SCOPE, session.upload_id) == session
    assert await metadata_store.find_upload(OTHER_ACCOUNT, session.upload_id) is None
    assert await metadata_store.find_upload(OTHER_REGION, session.upload_id) is None


# -- tag mutability and pulls -------------------------------------------------------------------------------


async def test_a_repository_created_with_the_defaults_has_mutable_tags(metadata_store: MetadataStore) -> None:
    assert await metadata_store.find_tag_mutability(SCOPE, "never/seen") is None

    await metadata_store.link_blob(SCOPE, REPO, blob("a"), 1)

    assert await metadata_store.find_tag_mutability(SCOPE, REPO) == TagMutabilityRule(TagMutability.MUTABLE)


async def test_moving_a_tag_reports_the_manifest_it_named_before(metadata_store: MetadataStore) -> None:
    assert await metadata_store.put_manifest(SCOPE, REPO, manifest("one"), "latest") is None
    assert await metadata_store.put_manifest(SCOPE, REPO, manifest("one"), "latest") == manifest("one").digest
    assert await metadata_store.put_manifest(SCOPE, REPO, manifest("two"), "latest") == manifest("one").digest
    assert await metadata_store.put_manifest(SCOPE, REPO, manifest("three"), None) is None

    assert await metadata_store.find_manifest(SCOPE, REPO, "latest") == manifest("two")


async def test_a_kept_tag_stays_and_the_new_manifest_is_not_stored(metadata_store: MetadataStore) -> None:
    await metadata_store.put_manifest(SCOPE, REPO, manifest("one"), "1.0")

    previous = await metadata_store.put_manifest(SCOPE, REPO, manifest("two"), "1.0", keep_tag=True)

    assert previous == manifest("one").digest
    assert await metadata_store.find_manifest(SCOPE, REPO, "1.0") == manifest("one")
    assert await metadata_store.find_manifest(SCOPE, REPO, manifest("two").digest) is None


async def test_a_kept_tag_may_be_pushed_again_with_the_manifest_it_names(metadata_store: MetadataStore) -> None:
    await metadata_store.put_manifest(SCOPE, REPO, manifest("one"), "1.0")

    previous = await metadata_store.put_manifest(SCOPE, REPO, manifest("one"), "1.0", keep_tag=True)
    await metadata_store.put_manifest(SCOPE, REPO, manifest("two"), "2.0", keep_tag=True)

    assert previous == manifest("one").digest
    assert await metadata_store.find_manifest(SCOPE, REPO, "2.0") == manifest("two")


async def test_a_manifest_knows_when_it_was_pushed_and_was_never_pulled(metadata_store: MetadataStore) -> None:
    """Pulls are recorded through PullRecordStore (test_pull_record_store.py)."""
    before = datetime.now(UTC)
    await metadata_store.put_manifest(SCOPE, REPO, manifest("m"), "latest")
    stored = await metadata_store.find_manifest(SCOPE, REPO, "latest")
    assert stored is not None
    assert stored.pushed_at is not None
    assert before <= stored.pushed_at <= datetime.now(UTC)
    assert stored.pulled_at is None


async def test_pushing_a_manifest_again_keeps_when_it_was_first_pushed(metadata_store: MetadataStore) -> None:
    await metadata_store.put_manifest(SCOPE, REPO, manifest("m"), "one")
    first = await metadata_store.find_manifest(SCOPE, REPO, "one")
    await metadata_store.put_manifest(SCOPE, REPO, manifest("m"), "two")

    second = await metadata_store.find_manifest(SCOPE, REPO, "two")
    assert first is not None
    assert second is not None
    assert second.pushed_at == first.pushed_at
