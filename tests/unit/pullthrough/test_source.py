"""PullThroughSource over a real filesystem blob store, a real SQLite metadata store and real single-flight fills,
with the upstream, the rules, IAM and the caller as small fakes in memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.iam.model import Role
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.policy.context import RequestPrincipal
from pullcache.pullthrough.background import BackgroundWork
from pullcache.pullthrough.blob_imports import BlobImporter
from pullcache.pullthrough.errors import UpstreamDenied, UpstreamError, UpstreamNotFound, UpstreamUnavailable
from pullcache.pullthrough.fills import BlobFills
from pullcache.pullthrough.imports_in_flight import ImportsInFlight
from pullcache.pullthrough.manifest_imports import DEFAULT_TAG_CHECK_TIMEOUT, ManifestImporter
from pullcache.pullthrough.ports import (
    RoleAct,
    UpstreamCredentials,
    UpstreamEndpoint,
    UpstreamManifest,
    UpstreamManifestHead,
)
from pullcache.pullthrough.rule_resolver import RuleResolver
from pullcache.pullthrough.rule_upstream import RuleUpstream
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.pullthrough.service_role import ServiceRole
from pullcache.pullthrough.source import PullThroughSource
from pullcache.registry.errors import Denied, Unavailable
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import ManifestRecord
from pullcache.storage.filesystem import FileBlob, FilesystemBlobStore
from tests.memory_blobs import MemoryBlob, read_all
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest
from tests.stores import STEP_TIMEOUT, SqlRepositories, chunks, sqlite_metadata_store, sqlite_repositories

ACCOUNT = "123456789012"
SCOPE = RegistryScope(ACCOUNT, "us-east-1")
PREFIX = "hub"
REPOSITORY = "hub/team/app"
UPSTREAM_REPOSITORY = "team/app"  # REPOSITORY under the rule: the prefix goes, the rest is the upstream's name
TAG = "latest"
ROLE_NAME = "AWSServiceRoleForECRPullThroughCache"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/pullthroughcache.ecr.amazonaws.com/{ROLE_NAME}"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/pullthroughcache"
GET_AUTHORIZATION_TOKEN = ("ecr:GetAuthorizationToken",)
PUT_IMAGE = ("ecr:PutImage",)
PUT_LAYER = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


# -- an image -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Image:
    manifest: UpstreamManifest
    blobs: dict[Digest, bytes]  # config and layers


def make_image(layer_sizes: Sequence[int] = (300 * 1024, 70 * 1024)) -> Image:
    config = encode({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex()})
    layers = [os.urandom(size) for size in layer_sizes]
    document = image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER) for layer in layers])
    content = encode(document)
    blobs = {Digest.of(data): data for data in (config, *layers)}
    return Image(UpstreamManifest(Digest.of(content), mediatypes.OCI_MANIFEST, content), blobs)


# -- fakes ----------------------------------------------------------------------------------------------------


class MemoryRules:
    """PullThroughRuleStore in memory, counting the imports begun and ended."""

    def __init__(self, rules: Sequence[PullThroughRule]) -> None:
        self._rules = {(rule.scope, rule.prefix): rule for rule in rules}
        self.begun: list[str] = []
        self.ended: list[str] = []

    @property
    def in_flight(self) -> int:
        return len(set(self.begun) - set(self.ended))

    async def add_rule(self, rule: PullThroughRule) -> bool:
        if (rule.scope, rule.prefix) in self._rules:
            return False
        self._rules[rule.scope, rule.prefix] = rule
        return True

    async def find_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        return self._rules.get((scope, prefix))

    async def list_rules(self, scope: RegistryScope) -> Sequence[PullThroughRule]:
        return sorted((rule for rule in self._rules.values() if rule.scope == scope), key=lambda rule: rule.prefix)

    async def list_account_rules(self, account_id: str) -> Sequence[PullThroughRule]:
        found = (rule for rule in self._rules.values() if rule.scope.account_id == account_id)
        return sorted(found, key=lambda rule: (rule.scope.region, rule.prefix))

    async def replace_rule(self, rule: PullThroughRule) -> bool:
        if (rule.scope, rule.prefix) not in self._rules:
            return False
        self._rules[rule.scope, rule.prefix] = rule
        return True

    async def delete_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        return self._rules.pop((scope, prefix), None)

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str:
        import_id = f"import-{len(self.begun)}"
        self.begun.append(import_id)
        return import_id

    async def end_import(self, import_id: str) -> None:
        if import_id not in self.ended:
            self.ended.append(import_id)

    async def count_imports_since(self, account_id: str, since: datetime) -> int:
        return self.in_flight


class MemoryUpstream:
    """UpstreamRegistry serving manifests (by tag and by digest) and blobs from dicts, counting every call.

    `failure`, when set, is raised by every call instead of answering.
    """

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], UpstreamManifest] = {}
        self.blobs: dict[Digest, bytes] = {}
        self.failure: UpstreamError | None = None
        self.heads: list[tuple[str, str]] = []
        self.gets: list[tuple[str, str]] = []
        self.blob_opens: list[Digest] = []
        self.blob_heads: list[Digest] = []
        self.endpoints: list[UpstreamEndpoint] = []
        self.gate: asyncio.Event | None = None  # when set, manifest GETs wait for it
        self.head_budgets: list[float | None] = []

    def serve(self, repository: str, tag: str, image: Image) -> None:
        self.manifests[repository, tag] = image.manifest
        self.manifests[repository, str(image.manifest.digest)] = image.manifest
        self.blobs.update(image.blobs)

    @property
    def calls(self) -> int:
        return len(self.heads) + len(self.gets) + len(self.blob_opens) + len(self.blob_heads)

    async def check(self, endpoint: UpstreamEndpoint, repository: str | None = None) -> None:
        if self.failure is not None:
            raise self.failure

    async def head_manifest(
        self, endpoint: UpstreamEndpoint, repository: str, reference: str, *, budget: float | None = None
    ) -> UpstreamManifestHead:
        self.heads.append((repository, reference))
        self.head_budgets.append(budget)
        manifest = self._manifest(endpoint, repository, reference)
        return UpstreamManifestHead(manifest.digest, manifest.media_type, len(manifest.content))

    async def get_manifest(self, endpoint: UpstreamEndpoint, repository: str, reference: str) -> UpstreamManifest:
        self.gets.append((repository, reference))
        if self.gate is not None:
            await self.gate.wait()
        return self._manifest(endpoint, repository, reference)

    @contextlib.asynccontextmanager
    async def open_blob(self, endpoint: UpstreamEndpoint, repository: str, digest: Digest) -> AsyncIterator[MemoryBlob]:
        self.blob_opens.append(digest)
        self.endpoints.append(endpoint)
        if self.failure is not None:
            raise self.failure
        content = self.blobs.get(digest)
        if content is None:
            raise UpstreamNotFound(f"no blob {digest}", 404)
        yield MemoryBlob(content)

    async def has_blob(self, endpoint: UpstreamEndpoint, repository: str, digest: Digest) -> None:
        self.blob_heads.append(digest)
        self.endpoints.append(endpoint)
        if self.failure is not None:
            raise self.failure
        if digest not in self.blobs:
            raise UpstreamNotFound(f"no blob {digest}", 404)

    def _manifest(self, endpoint: UpstreamEndpoint, repository: str, reference: str) -> UpstreamManifest:
        self.endpoints.append(endpoint)
        if self.failure is not None:
            raise self.failure
        manifest = self.manifests.get((repository, reference))
        if manifest is None:
            raise UpstreamNotFound(f"no manifest {repository}:{reference}", 404)
        return manifest


class FixedCredentials:
    def __init__(self) -> None:
        self.credentials = UpstreamCredentials("puller", "token")

    async def find_credentials(self, rule: PullThroughRule) -> UpstreamCredentials | None:
        return self.credentials


class MemoryRoles:
    """ServiceLinkedRoles with the account's role, or without it (`role` None)."""

    def __init__(self, role: Role | None) -> None:
        self.role = role
        self.uses: list[tuple[str, str]] = []

    async def find_role(self, account_id: str) -> Role | None:
        return self.role if self.role is not None and self.role.account == account_id else None

    async def ensure_role(self, account_id: str) -> Role:
        if self.role is None:
            self.role = service_linked_role()
        return self.role

    async def record_use(self, role: Role, at: datetime, region: str) -> None:
        self.uses.append((role.arn, region))


@dataclass(frozen=True, slots=True)
class Authorization:
    principal: str
    repository: str | None
    actions: tuple[str, ...]
    imports_in_flight: int


class RecordingAuthorizer:
    """ServiceAuthorizer recording each question (and how many imports were in flight when it was asked)."""

    def __init__(self, rules: MemoryRules) -> None:
        self._rules = rules
        self.calls: list[Authorization] = []
        self.refusal: Denied | None = None

    async def authorize_service(
        self, principal: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        assert scope == SCOPE
        self.calls.append(Authorization(principal.arn, repository, tuple(actions), self._rules.in_flight))
        if self.refusal is not None:
            raise self.refusal


class RecordingRepositories:
    """CachedRepositories creating each repository in the metadata store's file (ECR's defaults), recorded;
    refuses with `refusal` when set."""

    def __init__(self, sql: SqlRepositories) -> None:
        self.sql = sql
        self.created: list[tuple[RegistryScope, str]] = []
        self.refusal: Exception | None = None

    async def create_cached_repository(self, scope: RegistryScope, repository: str) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.created.append((scope, repository))
        await self.sql.create(scope, repository)


class RecordingActivity:
    """RoleActivity keeping every write the role told of."""

    def __init__(self) -> None:
        self.acts: list[RoleAct] = []

    def role_acted(self, act: RoleAct) -> None:
        self.acts.append(act)


class FailingWrites(ManifestWrites):
    """The registry's manifest writes, whose imports fail with `failure` when set (a write the store refused)."""

    failure: Exception | None = None

    async def store_imported(self, *arguments: Any, **options: Any) -> Any:
        if self.failure is not None:
            raise self.failure
        return await super().store_imported(*arguments, **options)


class Requester:
    """PullRequester recording each question; refuses with `refusal` when set."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, bool]] = []
        self.refusal: Exception | None = None

    async def authorize_import(self, repository: str, repository_exists: bool) -> None:
        self.asked.append((repository, repository_exists))
        if self.refusal is not None:
            raise self.refusal


def service_linked_role() -> Role:
    return Role(
        "AROAPULLTHROUGHCACHE1",
        ACCOUNT,
        ROLE_NAME,
        "/aws-service-role/pullthroughcache.ecr.amazonaws.com/",
        ROLE_ARN,
        NOW,
        "{}",
    )


def make_rule(tag_ttl: timedelta = timedelta(hours=24)) -> PullThroughRule:
    return PullThroughRule(SCOPE, PREFIX, "upstream.example", None, NOW, NOW, tag_ttl=tag_ttl)


# -- the world ------------------------------------------------------------------------------------------------


@dataclass
class World:
    source: PullThroughSource
    rules: MemoryRules
    upstream: MemoryUpstream
    roles: MemoryRoles
    authorizer: RecordingAuthorizer
    repositories: RecordingRepositories
    requester: Requester
    blobs: FilesystemBlobStore
    metadata: SqlMetadataStore
    activity: RecordingActivity
    writes: FailingWrites


@contextlib.asynccontextmanager
async def open_world(
    scratch: Path, rule: PullThroughRule, *, role: Role | None, tag_check_timeout: float = DEFAULT_TAG_CHECK_TIMEOUT
) -> AsyncIterator[World]:
    async with sqlite_metadata_store(scratch) as metadata, sqlite_repositories(scratch) as sql:
        rules = MemoryRules([rule])
        upstream = MemoryUpstream()
        roles = MemoryRoles(role)
        authorizer = RecordingAuthorizer(rules)
        repositories = RecordingRepositories(sql)
        blobs = FilesystemBlobStore(scratch / "blobs")
        fills = BlobFills(blobs, scratch / "fills", wait_timeout=STEP_TIMEOUT)
        activity = RecordingActivity()
        acting = ServiceRole(roles, authorizer, ImportsInFlight(rules), activity)
        writes = FailingWrites(metadata)
        rule_upstream = RuleUpstream(upstream, FixedCredentials())
        background = BackgroundWork()
        blob_imports = BlobImporter(rule_upstream, acting, blobs, metadata, fills, background, background_delay=0.0)
        manifest_imports = ManifestImporter(
            rule_upstream,
            acting,
            repositories,
            writes,
            metadata,
            blob_imports,
            background,
            tag_check_timeout=tag_check_timeout,
        )
        source = PullThroughSource(RuleResolver(rules), manifest_imports, blob_imports, acting, background)
        try:
            yield World(
                source, rules, upstream, roles, authorizer, repositories, Requester(), blobs, metadata, activity, writes
            )
        finally:
            await source.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A rule `hub` with the default tag TTL, and the service-linked role."""
    async with open_world(tmp_path, make_rule(), role=service_linked_role()) as opened:
        yield opened


@pytest.fixture
async def ttl_zero(tmp_path: Path) -> AsyncIterator[World]:
    """A rule `hub` whose cached tags are always due for a check, and the service-linked role."""
    async with open_world(tmp_path, make_rule(timedelta(0)), role=service_linked_role()) as opened:
        yield opened


@pytest.fixture
def image() -> Image:
    return make_image()


async def pull_tag(world: World, tag: str = TAG) -> ManifestRecord | None:
    cached = await world.metadata.find_manifest(SCOPE, REPOSITORY, tag)
    return await world.source.find_manifest(SCOPE, REPOSITORY, tag, cached, world.requester)


def record_of(image: Image) -> ManifestRecord:
    return ManifestRecord(image.manifest.digest, image.manifest.media_type, image.manifest.content)


async def store_manifest_only(world: World, image: Image) -> None:
    """The image's manifest in the repository under TAG, none of its blobs (no background fill starts)."""
    await world.repositories.sql.create(SCOPE, REPOSITORY)  # cached before: not created by this test's pulls
    await world.metadata.put_manifest(SCOPE, REPOSITORY, record_of(image), TAG)


async def wait_until_linked(world: World, digests: Sequence[Digest]) -> None:
    """Wait (bounded) until every one of `digests` is linked into REPOSITORY."""
    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
    while True:
        sizes = [await world.metadata.find_blob_size(SCOPE, REPOSITORY, digest) for digest in digests]
        if all(size is not None for size in sizes):
            return
        assert asyncio.get_running_loop().time() < deadline, f"blobs not linked in time: {sizes}"
        await asyncio.sleep(0.01)


async def wait_until_imports_end(world: World) -> None:
    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
    while world.rules.in_flight:
        assert asyncio.get_running_loop().time() < deadline, "imports still in flight"
        await asyncio.sleep(0.01)


# -- a manifest the repository lacks --------------------------------------------------------------------------


async def test_a_manifest_miss_under_a_rule_is_imported_as_the_service_linked_role(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)

    served = await pull_tag(world)

    assert served is not None
    assert served.digest == image.manifest.digest
    assert served.content == image.manifest.content
    assert world.requester.asked == [(REPOSITORY, False)]
    assert world.repositories.created == [(SCOPE, REPOSITORY)]
    assert world.upstream.gets == [(UPSTREAM_REPOSITORY, TAG)]
    assert world.upstream.endpoints[0] == UpstreamEndpoint("https://upstream.example", FixedCredentials().credentials)
    by_tag = await world.metadata.find_manifest(SCOPE, REPOSITORY, TAG)
    by_digest = await world.metadata.find_manifest(SCOPE, REPOSITORY, image.manifest.digest)
    assert by_tag is not None
    assert by_tag.digest == image.manifest.digest
    assert by_tag.tag_checked_at is not None
    assert by_digest is not None
    assert by_digest.content == image.manifest.content
    # The manifest's writes come first (the blobs' fills are started after it is stored), each while an import
    # is recorded in flight.
    manifest_writes = world.authorizer.calls[:2]
    assert [(call.principal, call.repository, call.actions) for call in manifest_writes] == [
        (SESSION_ARN, None, GET_AUTHORIZATION_TOKEN),
        (SESSION_ARN, REPOSITORY, PUT_IMAGE),
    ]
    assert all(call.imports_in_flight >= 1 for call in manifest_writes)
    assert all(call.principal == SESSION_ARN for call in world.authorizer.calls)
    assert world.roles.uses == [(ROLE_ARN, SCOPE.region)]
    await wait_until_linked(world, list(image.blobs))
    await wait_until_imports_end(world)
    assert world.rules.begun
    assert sorted(world.rules.begun) == sorted(world.rules.ended)


async def test_a_second_manifest_into_an_existing_repository_does_not_create_it_again(
    world: World, image: Image
) -> None:
    other = make_image()
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    world.upstream.serve(UPSTREAM_REPOSITORY, "v2", other)

    assert await pull_tag(world) is not None
    served = await pull_tag(world, "v2")

    assert served is not None
    assert served.digest == other.manifest.digest
    assert world.requester.asked == [(REPOSITORY, False), (REPOSITORY, True)]
    assert world.repositories.created == [(SCOPE, REPOSITORY)]


async def test_without_the_service_linked_role_nothing_is_imported(tmp_path: Path, image: Image) -> None:
    async with open_world(tmp_path, make_rule(), role=None) as world:
        world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)

        with pytest.raises(Denied, match=ROLE_NAME):
            await pull_tag(world)

        assert world.repositories.created == []
        assert not await world.metadata.repository_exists(SCOPE, REPOSITORY)
        assert await world.metadata.find_manifest(SCOPE, REPOSITORY, image.manifest.digest) is None
        assert world.authorizer.calls == []
        assert world.upstream.blob_opens == []
        assert world.rules.begun == []


async def test_a_refused_write_stores_nothing(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    world.authorizer.refusal = Denied("the role's policy does not allow it")

    with pytest.raises(Denied) as raised:
        await pull_tag(world)

    assert raised.value is world.authorizer.refusal
    assert world.repositories.created == []
    assert not await world.metadata.repository_exists(SCOPE, REPOSITORY)
    await wait_until_imports_end(world)  # the record of a burst of imports outlives it a moment
    assert world.rules.begun == world.rules.ended != []


async def test_a_repository_the_import_could_not_create_is_recorded_with_its_error(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    world.repositories.refusal = Denied("the repository creation template's role may not create it")

    with pytest.raises(Denied):
        await pull_tag(world)

    assert [(act.action, act.error_code) for act in world.activity.acts] == [
        ("CreateRepository", "AccessDeniedException")
    ]
    assert world.activity.acts[0].parameters == {"repositoryName": REPOSITORY}
    assert world.activity.acts[0].session.arn == SESSION_ARN


async def test_a_manifest_the_store_would_not_keep_is_recorded_with_its_error(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    world.writes.failure = Unavailable("the metadata store is not answering")

    with pytest.raises(Unavailable):
        await pull_tag(world)

    assert [(act.action, act.error_code) for act in world.activity.acts] == [
        ("CreateRepository", None),
        ("PutImage", "Unavailable"),
    ]
    assert world.activity.acts[1].parameters == {
        "repositoryName": REPOSITORY,
        "imageDigest": str(image.manifest.digest),
        "imageTag": TAG,
    }
    assert world.activity.acts[1].error_message == "the metadata store is not answering"


async def test_a_refused_requester_propagates_and_the_upstream_is_never_asked(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    refusal = Denied("not authorized to perform: ecr:BatchImportUpstreamImage")
    world.requester.refusal = refusal

    with pytest.raises(Denied) as raised:
        await pull_tag(world)

    assert raised.value is refusal
    assert world.requester.asked == [(REPOSITORY, False)]
    assert world.upstream.calls == 0
    assert world.repositories.created == []


@pytest.mark.parametrize("cached", [False, True], ids=["nothing-cached", "cached"])
async def test_a_repository_no_rule_covers_gets_what_it_was_given_and_the_upstream_is_never_asked(
    world: World, image: Image, cached: bool
) -> None:
    world.upstream.serve("elsewhere/app", TAG, image)
    given = record_of(image) if cached else None

    served = await world.source.find_manifest(SCOPE, "elsewhere/app", TAG, given, world.requester)

    assert served is given
    assert world.upstream.calls == 0
    assert world.requester.asked == []
    assert world.authorizer.calls == []


async def test_a_rule_of_another_scope_does_not_cover_the_repository(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    other_region = RegistryScope(ACCOUNT, "eu-west-1")

    assert await world.source.find_manifest(other_region, REPOSITORY, TAG, None, world.requester) is None
    assert world.upstream.calls == 0


# -- a cached tag, a cached digest ----------------------------------------------------------------------------


async def test_a_cached_tag_within_the_ttl_is_served_without_asking_the_upstream(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await pull_tag(world)
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, make_image())  # the tag moved upstream: not looked at yet
    heads, gets = len(world.upstream.heads), len(world.upstream.gets)

    served = await pull_tag(world)

    assert served is not None
    assert served.digest == image.manifest.digest
    assert (len(world.upstream.heads), len(world.upstream.gets)) == (heads, gets)


async def test_a_cached_tag_past_the_ttl_naming_the_same_digest_is_marked_checked_without_a_get(
    ttl_zero: World, image: Image
) -> None:
    world = ttl_zero
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await pull_tag(world)
    before = await world.metadata.find_manifest(SCOPE, REPOSITORY, TAG)
    assert before is not None
    assert before.tag_checked_at is not None
    gets = len(world.upstream.gets)

    served = await world.source.find_manifest(SCOPE, REPOSITORY, TAG, before, world.requester)

    assert served is before
    assert world.upstream.heads == [(UPSTREAM_REPOSITORY, TAG)]
    assert len(world.upstream.gets) == gets
    after = await world.metadata.find_manifest(SCOPE, REPOSITORY, TAG)
    assert after is not None
    assert after.digest == image.manifest.digest
    assert after.tag_checked_at is not None
    assert after.tag_checked_at > before.tag_checked_at


async def test_a_cached_tag_past_the_ttl_that_moved_upstream_imports_the_new_manifest_and_moves_the_tag(
    ttl_zero: World, image: Image
) -> None:
    world = ttl_zero
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await pull_tag(world)
    moved = make_image()
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, moved)

    served = await pull_tag(world)

    assert served is not None
    assert served.digest == moved.manifest.digest
    assert world.upstream.heads == [(UPSTREAM_REPOSITORY, TAG)]
    assert world.upstream.gets[-1] == (UPSTREAM_REPOSITORY, str(moved.manifest.digest))
    assert world.requester.asked == [(REPOSITORY, False), (REPOSITORY, True)]
    tagged = await world.metadata.find_manifest(SCOPE, REPOSITORY, TAG)
    assert tagged is not None
    assert tagged.digest == moved.manifest.digest
    assert await world.metadata.find_manifest(SCOPE, REPOSITORY, image.manifest.digest) is not None
    assert world.repositories.created == [(SCOPE, REPOSITORY)]
    await wait_until_linked(world, list(moved.blobs))


@pytest.mark.parametrize(
    "failure",
    [UpstreamUnavailable("503 Service Unavailable", 503), UpstreamDenied("401 Unauthorized", 401)],
    ids=["unavailable", "denied"],
)
async def test_a_cached_tag_past_the_ttl_is_served_when_the_upstream_fails(
    ttl_zero: World, image: Image, failure: UpstreamError
) -> None:
    world = ttl_zero
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await pull_tag(world)
    cached = await world.metadata.find_manifest(SCOPE, REPOSITORY, TAG)
    assert cached is not None
    world.upstream.failure = failure

    served = await world.source.find_manifest(SCOPE, REPOSITORY, TAG, cached, world.requester)

    assert served is cached
    assert world.upstream.heads == [(UPSTREAM_REPOSITORY, TAG)]  # it did ask


async def test_a_cached_tags_check_asks_the_upstream_within_the_checks_own_budget(tmp_path: Path, image: Image) -> None:
    async with open_world(
        tmp_path, make_rule(timedelta(0)), role=service_linked_role(), tag_check_timeout=2.5
    ) as world:
        world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
        await pull_tag(world)
        await pull_tag(world)

    assert world.upstream.head_budgets == [2.5]


async def test_a_moved_tag_whose_new_manifest_does_not_come_within_the_budget_serves_the_cached_copy(
    tmp_path: Path, image: Image
) -> None:
    async with open_world(
        tmp_path, make_rule(timedelta(0)), role=service_linked_role(), tag_check_timeout=0.2
    ) as world:
        world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
        await pull_tag(world)
        cached = await world.metadata.find_manifest(SCOPE, REPOSITORY, TAG)
        world.upstream.serve(UPSTREAM_REPOSITORY, TAG, make_image())
        world.upstream.gate = asyncio.Event()  # the new manifest's GET never ends

        served = await asyncio.wait_for(pull_tag(world), STEP_TIMEOUT)

    assert served == cached
    assert world.upstream.gets[-1][0] == UPSTREAM_REPOSITORY  # it did ask


async def test_a_cached_digest_is_never_checked_again_even_with_a_zero_ttl(ttl_zero: World, image: Image) -> None:
    world = ttl_zero
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await pull_tag(world)
    cached = await world.metadata.find_manifest(SCOPE, REPOSITORY, image.manifest.digest)
    assert cached is not None
    heads, gets = len(world.upstream.heads), len(world.upstream.gets)

    served = await world.source.find_manifest(SCOPE, REPOSITORY, image.manifest.digest, cached, world.requester)

    assert served is cached
    assert (len(world.upstream.heads), len(world.upstream.gets)) == (heads, gets)
    assert world.requester.asked == [(REPOSITORY, False)]


async def test_pullers_of_one_missing_image_at_once_share_one_upstream_fetch(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    world.upstream.gate = asyncio.Event()
    pulls = [asyncio.ensure_future(pull_tag(world)) for _ in range(5)]
    deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
    while len(world.requester.asked) < len(pulls):  # every puller was authorized and is waiting
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    world.upstream.gate.set()

    served = await asyncio.gather(*pulls)

    assert {record.digest for record in served if record is not None} == {image.manifest.digest}
    assert world.upstream.gets == [(UPSTREAM_REPOSITORY, TAG)]
    assert world.repositories.created == [(SCOPE, REPOSITORY)]


async def test_a_digest_miss_is_imported_without_a_tag(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)

    served = await world.source.find_manifest(SCOPE, REPOSITORY, image.manifest.digest, None, world.requester)

    assert served is not None
    assert served.digest == image.manifest.digest
    assert world.upstream.gets == [(UPSTREAM_REPOSITORY, str(image.manifest.digest))]
    assert await world.metadata.find_manifest(SCOPE, REPOSITORY, image.manifest.digest) is not None
    assert await world.metadata.list_tags(SCOPE, REPOSITORY, None, None) == []


# -- the upstream failing on a miss ---------------------------------------------------------------------------


async def test_a_manifest_the_upstream_does_not_have_is_none(world: World) -> None:
    assert await pull_tag(world) is None
    assert world.upstream.gets == [(UPSTREAM_REPOSITORY, TAG)]
    assert world.repositories.created == []
    assert not await world.metadata.repository_exists(SCOPE, REPOSITORY)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (UpstreamUnavailable("connection refused"), Unavailable),
        (UpstreamDenied("401 Unauthorized", 401), Denied),
    ],
    ids=["unavailable", "denied"],
)
async def test_an_upstream_failure_on_a_miss_becomes_the_registry_error(
    world: World, image: Image, failure: UpstreamError, expected: type[Exception]
) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    world.upstream.failure = failure

    with pytest.raises(expected, match=r"upstream\.example"):
        await pull_tag(world)

    assert world.repositories.created == []
    assert not await world.metadata.repository_exists(SCOPE, REPOSITORY)


# -- blobs ----------------------------------------------------------------------------------------------------


async def test_after_a_manifest_import_every_blob_of_the_image_is_fetched_once_and_linked(
    world: World, image: Image
) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)

    await pull_tag(world)
    await wait_until_linked(world, list(image.blobs))

    assert sorted(world.upstream.blob_opens, key=str) == sorted(image.blobs, key=str)
    for digest, content in image.blobs.items():
        assert await world.metadata.find_blob_size(SCOPE, REPOSITORY, digest) == len(content)
        committed = await world.blobs.open_blob(digest)
        assert committed is not None
        assert committed.path.read_bytes() == content
    layer_writes = [call for call in world.authorizer.calls if call.actions == PUT_LAYER]
    assert len(layer_writes) == len(image.blobs)
    assert all(call.principal == SESSION_ARN and call.repository == REPOSITORY for call in layer_writes)
    assert all(call.imports_in_flight >= 1 for call in layer_writes)


async def test_a_blob_miss_is_served_from_its_fill_and_linked_afterwards(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    # The repository holds the manifest but none of its blobs (stored directly: no background fill starts).
    await store_manifest_only(world, image)
    layer, content = max(image.blobs.items(), key=lambda item: len(item[1]))

    blob = await world.source.find_blob(SCOPE, REPOSITORY, layer, world.requester)

    assert blob is not None
    assert blob.size == len(content)
    assert await read_all(blob) == content
    await wait_until_linked(world, [layer])
    assert await world.metadata.find_blob_size(SCOPE, REPOSITORY, layer) == len(content)
    assert world.upstream.blob_opens == [layer]
    assert world.requester.asked == [(REPOSITORY, True)]
    layer_writes = [call for call in world.authorizer.calls if call.actions == PUT_LAYER]
    assert layer_writes
    assert all(call.principal == SESSION_ARN for call in layer_writes)
    assert {call.repository for call in layer_writes} == {REPOSITORY}
    await wait_until_imports_end(world)
    assert sorted(world.rules.begun) == sorted(world.rules.ended)


async def test_a_blob_the_store_holds_is_linked_once_the_upstream_says_it_has_it_and_served_from_the_store(
    world: World, image: Image
) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await store_manifest_only(world, image)
    digest, content = next(iter(image.blobs.items()))
    await world.blobs.start_upload("elsewhere")
    await world.blobs.append("elsewhere", 0, chunks(content))
    await world.blobs.commit("elsewhere", digest)

    blob = await world.source.find_blob(SCOPE, REPOSITORY, digest, world.requester)

    assert isinstance(blob, FileBlob)  # the stored file, not a new fill
    assert blob.path.read_bytes() == content
    assert await world.metadata.find_blob_size(SCOPE, REPOSITORY, digest) == len(content)
    assert world.upstream.blob_heads == [digest]  # asked whether it has it
    assert world.upstream.blob_opens == []  # and nothing fetched


async def test_a_blob_stored_for_another_repository_is_not_opened_by_its_digest_where_the_upstream_lacks_it(
    world: World, image: Image
) -> None:
    """A private layer pushed elsewhere stays there: knowing its digest opens it in no cached repository."""
    await store_manifest_only(world, image)
    private = b"a layer pushed to a private repository"
    digest = Digest.of(private)
    await world.blobs.start_upload("private")
    await world.blobs.append("private", 0, chunks(private))
    await world.blobs.commit("private", digest)

    assert await world.source.find_blob(SCOPE, REPOSITORY, digest, world.requester) is None
    assert await world.metadata.find_blob_size(SCOPE, REPOSITORY, digest) is None


async def test_a_blob_the_upstream_does_not_have_is_none(world: World, image: Image) -> None:
    await store_manifest_only(world, image)
    missing = Digest.of(b"not upstream")

    assert await world.source.find_blob(SCOPE, REPOSITORY, missing, world.requester) is None
    assert world.upstream.blob_opens == [missing]
    assert await world.metadata.find_blob_size(SCOPE, REPOSITORY, missing) is None


async def test_find_blob_for_a_repository_that_does_not_exist_is_none(world: World, image: Image) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    digest = next(iter(image.blobs))

    assert await world.source.find_blob(SCOPE, REPOSITORY, digest, world.requester) is None
    assert world.upstream.calls == 0
    assert world.requester.asked == []
    assert not await world.metadata.repository_exists(SCOPE, REPOSITORY)


async def test_a_link_removed_since_the_cache_made_it_is_made_again_by_the_next_request(
    world: World, image: Image
) -> None:
    world.upstream.serve(UPSTREAM_REPOSITORY, TAG, image)
    await pull_tag(world)
    await wait_until_linked(world, list(image.blobs))
    digest = next(iter(image.blobs))
    assert await world.metadata.unlink_blob(SCOPE, REPOSITORY, digest)

    blob = await world.source.find_blob(SCOPE, REPOSITORY, digest, world.requester)

    assert isinstance(blob, FileBlob)  # committed already: no second fill
    assert await world.metadata.find_blob_size(SCOPE, REPOSITORY, digest) == len(image.blobs[digest])
    assert world.upstream.blob_opens.count(digest) == 1  # its fetch; then the upstream asked whether it has it
    assert world.upstream.blob_heads == [digest]
