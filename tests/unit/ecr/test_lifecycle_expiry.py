"""Lifecycle expiry over the real adapters (SQLite metadata, filesystem blobs): what a policy selects is deleted with
its tags through the registry's delete path, as ECR's evaluation rules and its documented exceptions say (an index
that stays keeps what it lists, referrers follow their subject), with the clock injected."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.lifecycle import EcrLifecyclePolicies
from pullcache.ecr.lifecycle_expiry import ORPHANED_REFERRER_GRACE, LifecycleExpiry
from pullcache.ecr.lifecycle_preview import LifecyclePolicyPreviews, PreviewImageFilter
from pullcache.ecr.ports import ImageRecord, RepositoryLifecyclePolicy, TagStatus
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.schema import manifests, tags
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.metadata.sql_lifecycle import SqlLifecyclePolicyStore
from pullcache.metadata.sql_registry_settings import SqlLifecyclePreviewStore
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.service import RegistryService
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest, index
from tests.stores import SqlRepositories, chunks, sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
ELSEWHERE: Final = RegistryScope("210987654321", "eu-west-1")
REPO: Final = "team/app"
OTHER: Final = "team/other"
START: Final = datetime(2025, 6, 1, tzinfo=UTC)
ARTIFACT: Final = "application/vnd.example.signature"


def policy(*rules: dict[str, Any]) -> str:
    return json.dumps(
        {
            "rules": [
                {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}
                for priority, selection in enumerate(rules, start=1)
            ]
        }
    )


def keep_tagged(prefix: str, count: int) -> dict[str, Any]:
    return {"tagStatus": "tagged", "tagPrefixList": [prefix], "countType": "imageCountMoreThan", "countNumber": count}


def older_than(days: int, status: str = "any", count_type: str = "sinceImagePushed") -> dict[str, Any]:
    return {"tagStatus": status, "countType": count_type, "countUnit": "days", "countNumber": days}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Registry:
    """The stores and services of one SQLite file: what the server wires, with the clock in the test's hand."""

    engine: AsyncEngine
    registry: RegistryService
    ecr_store: SqlEcrStore
    policies: SqlLifecyclePolicyStore
    clock: Clock

    def expiry(self, images: Any = None) -> LifecycleExpiry:
        return LifecycleExpiry(self.policies, images or self.ecr_store, self.registry, self.clock)

    async def put_policy(self, text: str, name: str = REPO, scope: RegistryScope = SCOPE) -> None:
        await EcrLifecyclePolicies(self.ecr_store, self.policies, self.clock).put_lifecycle_policy(scope, name, text)

    async def push(
        self,
        seed: str,
        tag: str | None = None,
        *,
        pushed: datetime = START,
        name: str = REPO,
        scope: RegistryScope = SCOPE,
        subject: bytes | None = None,
    ) -> bytes:
        """An image manifest (a referrer of `subject` when given) pushed with its blobs, pushed at `pushed`."""
        config, layer = json.dumps({"seed": seed}).encode(), seed.encode()
        for blob in (config, layer):
            await self.registry.upload_blob(scope, name, str(Digest.of(blob)), chunks(blob))
        fields: dict[str, Any] = {}
        if subject is not None:
            fields = {"subject": descriptor(subject, mediatypes.OCI_MANIFEST), "artifactType": ARTIFACT}
        manifest = encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)], **fields))
        return await self._put(manifest, mediatypes.OCI_MANIFEST, tag, pushed, name, scope)

    async def push_index(self, children: Sequence[bytes], tag: str | None, *, pushed: datetime = START) -> bytes:
        document = index([descriptor(child, mediatypes.OCI_MANIFEST) for child in children])
        return await self._put(encode(document), mediatypes.OCI_INDEX, tag, pushed, REPO, SCOPE)

    async def _put(
        self, content: bytes, media_type: str, tag: str | None, pushed: datetime, name: str, scope: RegistryScope
    ) -> bytes:
        reference = tag if tag is not None else str(Digest.of(content))
        await self.registry.put_manifest(scope, name, reference, content, media_type)
        await self.set_times(content, pushed=pushed, name=name)
        return content

    async def set_times(
        self, content: bytes, *, pushed: datetime | None = None, pulled: datetime | None = None, name: str = REPO
    ) -> None:
        """Write the image's push (imagePushedAt) and pull (lastRecordedPullTime) times: the registry stamps its own."""
        values = {"created_at": pushed} if pushed is not None else {}
        if pulled is not None:
            values["pulled_at"] = pulled
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.update(manifests).where(manifests.c.digest == str(Digest.of(content))).values(**values)
            )

    async def digests(self, name: str = REPO, scope: RegistryScope = SCOPE) -> set[str]:
        return {str(image.digest) for image in await self.ecr_store.list_images(scope, name, TagStatus.ANY, None, None)}

    async def tag_names(self) -> set[str]:
        async with self.engine.connect() as connection:
            return set((await connection.execute(sa.select(tags.c.name))).scalars())


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Registry]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    metadata = SqlMetadataStore(engine)
    ecr_store = SqlEcrStore(engine)
    repositories = SqlRepositories(ecr_store)
    await repositories.create(SCOPE, REPO, OTHER)
    await repositories.create(ELSEWHERE, REPO)
    registry = RegistryService(
        FilesystemBlobStore(tmp_path / "blobs"), metadata, ManifestWrites(metadata), repositories
    )
    yield Registry(engine, registry, ecr_store, SqlLifecyclePolicyStore(engine), Clock())
    await engine.dispose()


def digest(content: bytes) -> str:
    return str(Digest.of(content))


def fields(record: logging.LogRecord) -> Any:
    """The structured fields of a log line (logs.py writes them beside the message)."""
    return record.__dict__["fields"]


# -- what the rules select --------------------------------------------------------------------------------------


async def test_image_count_more_than_expires_the_oldest_matching_images_with_every_tag(stores: Registry) -> None:
    old = await stores.push("old", "v1", pushed=START - timedelta(days=3))
    await stores.registry.put_manifest(SCOPE, REPO, "also-old", old, mediatypes.OCI_MANIFEST)  # a second tag
    middle = await stores.push("middle", "v2", pushed=START - timedelta(days=2))
    newest = await stores.push("newest", "v3", pushed=START - timedelta(days=1))
    untagged = await stores.push("untagged", pushed=START - timedelta(days=9))
    await stores.put_policy(policy(keep_tagged("v", 1)))

    summary = await stores.expiry().expire_all()

    assert (summary.repositories, summary.expired, summary.failed) == (1, 2, 0)
    assert await stores.digests() == {digest(newest), digest(untagged)}
    assert await stores.tag_names() == {"v3"}  # "also-old" went with the image it named
    assert await stores.registry.find_manifest(SCOPE, REPO, Digest.of(middle)) is None
    assert await stores.registry.find_manifest(SCOPE, REPO, "v1") is None


async def test_since_image_pushed_expires_what_the_clock_makes_old_enough(stores: Registry) -> None:
    ten_days = await stores.push("ten", pushed=START - timedelta(days=10))
    three_days = await stores.push("three", pushed=START - timedelta(days=3))
    await stores.put_policy(policy(older_than(7, "untagged")))

    assert (await stores.expiry().expire_all()).expired == 1
    assert await stores.digests() == {digest(three_days)}

    stores.clock.now = START + timedelta(days=5)  # the younger one is 8 days old now
    assert (await stores.expiry().expire_all()).expired == 1
    assert await stores.digests() == set()
    assert ten_days != three_days


async def test_since_image_pulled_counts_an_image_never_pulled_as_pulled_when_pushed(stores: Registry) -> None:
    pulled_lately = await stores.push("pulled", pushed=START - timedelta(days=30))
    await stores.set_times(pulled_lately, pulled=START - timedelta(days=1))
    never_pulled = await stores.push("never", pushed=START - timedelta(days=30))
    pushed_lately = await stores.push("fresh", pushed=START - timedelta(days=2))
    await stores.put_policy(policy(older_than(14, count_type="sinceImagePulled")))

    assert (await stores.expiry().expire_all()).expired == 1
    assert digest(never_pulled) not in await stores.digests()
    assert await stores.digests() == {digest(pulled_lately), digest(pushed_lately)}


async def test_an_image_a_rule_of_higher_priority_identifies_is_never_expired_by_a_lower_one(
    stores: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    prod = await stores.push("prod", "prod-1", pushed=START - timedelta(days=3))
    dev_old = await stores.push("dev-old", "dev-1", pushed=START - timedelta(days=2))
    dev_new = await stores.push("dev-new", "dev-2", pushed=START - timedelta(days=1))
    keep_newest = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}
    await stores.put_policy(policy(keep_tagged("prod", 5), keep_newest))
    caplog.set_level(logging.INFO, "pullcache.ecr.lifecycle_expiry")

    assert (await stores.expiry().expire_all()).expired == 1

    assert await stores.digests() == {digest(prod), digest(dev_new)}
    [line] = [record for record in caplog.records if record.getMessage().startswith("expired ")]
    assert fields(line) == {
        "account_id": SCOPE.account_id,
        "region": SCOPE.region,
        "repository": REPO,
        "digest": digest(dev_old),
        "tags": ["dev-1"],
        "rule_priority": 2,
    }
    [summary] = [record for record in caplog.records if record.getMessage() == "lifecycle policies applied"]
    assert fields(summary) == {"repositories": 1, "expired": 1, "referrers": 0, "kept": 0, "failed": 0}


async def test_only_repositories_with_a_policy_in_every_registry_are_touched(stores: Registry) -> None:
    here = await stores.push("here", pushed=START - timedelta(days=30))
    there = await stores.push("there", pushed=START - timedelta(days=30), scope=ELSEWHERE)
    untouched = await stores.push("untouched", pushed=START - timedelta(days=30), name=OTHER)
    await stores.put_policy(policy(older_than(1)))
    await stores.put_policy(policy(older_than(1)), scope=ELSEWHERE)

    summary = await stores.expiry().expire_all()

    assert (summary.repositories, summary.expired) == (2, 2)
    assert await stores.digests() == set()
    assert await stores.digests(scope=ELSEWHERE) == set()
    assert await stores.digests(name=OTHER) == {digest(untouched)}
    assert here != there


async def test_the_policies_of_every_registry_are_listed_a_page_at_a_time(stores: Registry) -> None:
    await stores.put_policy(policy(older_than(1)), name=OTHER)
    await stores.put_policy(policy(older_than(2)))
    await stores.put_policy(policy(older_than(3)), scope=ELSEWHERE)

    seen: list[tuple[RegistryScope, str]] = []
    after: RepositoryLifecyclePolicy | None = None
    while page := await stores.policies.list_lifecycle_policies(after, 1):
        seen.extend((found.scope, found.name) for found in page)
        after = page[-1]

    assert seen == [(SCOPE, REPO), (SCOPE, OTHER), (ELSEWHERE, REPO)]  # by account, region, name


# -- image indexes and referrers ---------------------------------------------------------------------------------


async def test_the_images_an_index_that_stays_lists_are_not_expired(stores: Registry) -> None:
    amd64 = await stores.push("amd64", pushed=START - timedelta(days=30))
    arm64 = await stores.push("arm64", pushed=START - timedelta(days=30))
    listing = await stores.push_index([amd64, arm64], "v1", pushed=START - timedelta(days=30))
    orphan = await stores.push("orphan", pushed=START - timedelta(days=30))
    await stores.put_policy(policy(older_than(7, "untagged")))

    assert (await stores.expiry().expire_all()).expired == 1

    assert await stores.digests() == {digest(amd64), digest(arm64), digest(listing)}
    assert digest(orphan) not in await stores.digests()


async def test_an_expired_index_goes_before_the_images_it_lists(
    stores: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    amd64 = await stores.push("amd64", pushed=START - timedelta(days=30))
    arm64 = await stores.push("arm64", pushed=START - timedelta(days=20))
    listing = await stores.push_index([amd64, arm64], "v1", pushed=START - timedelta(days=10))
    kept = await stores.push("kept", "v2", pushed=START)
    await stores.put_policy(policy(older_than(7)))
    caplog.set_level(logging.INFO, "pullcache.ecr.lifecycle_expiry")

    assert (await stores.expiry().expire_all()).expired == 3

    assert await stores.digests() == {digest(kept)}
    expired = [fields(record)["digest"] for record in caplog.records if record.getMessage().startswith("expired ")]
    assert expired == [digest(listing), digest(amd64), digest(arm64)]  # the evaluator alone would go oldest first


async def test_the_preview_shows_what_expiry_deletes(stores: Registry) -> None:
    amd64 = await stores.push("amd64", pushed=START - timedelta(days=30))
    await stores.push_index([amd64], "v1", pushed=START - timedelta(days=30))
    orphan = await stores.push("orphan", pushed=START - timedelta(days=30))
    text = policy(older_than(7, "untagged"))
    previews = LifecyclePolicyPreviews(
        stores.ecr_store, stores.policies, stores.ecr_store, SqlLifecyclePreviewStore(stores.engine), stores.clock
    )

    await previews.start_preview(SCOPE, REPO, text)
    page = await previews.get_preview(SCOPE, REPO, PreviewImageFilter(), None, None)

    assert [str(result.digest) for result in page.results] == [digest(orphan)]


async def test_referrers_follow_the_image_they_refer_to(stores: Registry) -> None:
    subject = await stores.push("subject", "v1", pushed=START - timedelta(days=30))
    signature = await stores.push("signature", subject=subject)
    countersignature = await stores.push("countersignature", subject=signature)
    unrelated = await stores.push("unrelated", "v2")
    await stores.put_policy(policy({**older_than(7, "tagged"), "tagPrefixList": ["v"]}))

    summary = await stores.expiry().expire_all()

    assert (summary.expired, summary.referrers) == (1, 2)
    assert await stores.digests() == {digest(unrelated)}
    assert countersignature != signature


async def test_a_referrer_whose_subject_was_deleted_otherwise_goes_after_the_grace(stores: Registry) -> None:
    subject = await stores.push("subject", "v1")
    signature = await stores.push("signature", subject=subject)
    await stores.put_policy(policy(keep_tagged("v", 10)))
    await stores.registry.delete_manifest(SCOPE, REPO, digest(subject))  # BatchDeleteImage, or DELETE on /v2/

    assert (await stores.expiry().expire_all()).referrers == 0  # pushed just now: its subject may be on its way
    assert await stores.digests() == {digest(signature)}

    stores.clock.now = START + ORPHANED_REFERRER_GRACE + timedelta(seconds=1)
    assert (await stores.expiry().expire_all()).referrers == 1
    assert await stores.digests() == set()


# -- what changes under a run -----------------------------------------------------------------------------------


class Interposed:
    """The ECR store, with `before` run once when the service first reads an image again before deleting it."""

    def __init__(self, store: SqlEcrStore, before: Callable[[], Any]) -> None:
        self._store = store
        self._before: Callable[[], Any] | None = before

    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        return await self._store.list_images(scope, name, status, after, limit)

    async def find_image(self, scope: RegistryScope, name: str, digest: Digest) -> ImageRecord | None:
        if self._before is not None:
            before, self._before = self._before, None
            await before()
        return await self._store.find_image(scope, name, digest)


async def test_an_image_tagged_again_after_the_evaluation_is_kept(stores: Registry) -> None:
    old = await stores.push("old", "v1", pushed=START - timedelta(days=2))
    new = await stores.push("new", "v2", pushed=START - timedelta(days=1))
    await stores.put_policy(policy(keep_tagged("v", 1)))

    async def tag_again() -> None:
        await stores.registry.put_manifest(SCOPE, REPO, "v1-pinned", old, mediatypes.OCI_MANIFEST)

    summary = await stores.expiry(Interposed(stores.ecr_store, tag_again)).expire_all()

    assert (summary.expired, summary.kept) == (0, 1)
    assert await stores.digests() == {digest(old), digest(new)}


async def test_an_index_kept_at_the_last_moment_keeps_the_images_it_lists(stores: Registry) -> None:
    child = await stores.push("child", pushed=START - timedelta(days=30))
    listing = await stores.push_index([child], "v1", pushed=START - timedelta(days=30))
    await stores.put_policy(policy(older_than(7)))

    async def pull_index() -> None:
        await stores.set_times(listing, pulled=START)

    summary = await stores.expiry(Interposed(stores.ecr_store, pull_index)).expire_all()

    assert (summary.expired, summary.kept) == (0, 1)
    assert await stores.digests() == {digest(child), digest(listing)}


async def test_a_repository_deleted_during_its_run_is_skipped(stores: Registry) -> None:
    await stores.push("old", pushed=START - timedelta(days=30))
    await stores.put_policy(policy(older_than(7)))

    async def delete_repository() -> None:
        await stores.ecr_store.delete_repository(SCOPE, REPO, force=True)

    summary = await stores.expiry(Interposed(stores.ecr_store, delete_repository)).expire_all()

    assert (summary.repositories, summary.expired, summary.failed) == (1, 0, 0)


class FailingFor:
    """The ECR store, failing every read of one repository's images."""

    def __init__(self, store: SqlEcrStore, name: str) -> None:
        self._store = store
        self._name = name

    async def list_images(
        self, scope: RegistryScope, name: str, status: TagStatus, after: Digest | None, limit: int | None
    ) -> Sequence[ImageRecord]:
        if name == self._name:
            raise OSError("disk I/O error")
        return await self._store.list_images(scope, name, status, after, limit)

    async def find_image(self, scope: RegistryScope, name: str, digest: Digest) -> ImageRecord | None:
        return await self._store.find_image(scope, name, digest)


async def test_a_repository_that_fails_is_logged_and_the_others_go_on(
    stores: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    await stores.push("old", pushed=START - timedelta(days=30), name=OTHER)
    expired = await stores.push("old", pushed=START - timedelta(days=30))
    await stores.put_policy(policy(older_than(7)), name=OTHER)
    await stores.put_policy(policy(older_than(7)))

    summary = await stores.expiry(FailingFor(stores.ecr_store, OTHER)).expire_all()

    assert (summary.repositories, summary.expired, summary.failed) == (2, 1, 1)
    assert digest(expired) not in await stores.digests()
    assert "applying the lifecycle policy of team/other failed" in caplog.text
