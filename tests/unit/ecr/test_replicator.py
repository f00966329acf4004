"""The Replicator over the registry's real metadata store (SQLite) and write path, with its own store in memory:
what a push into a covered repository copies, where, with which status, and what it refuses.

Pushes go through ManifestWrites.store, the registry's one write path, which tells its observers (the Replicator
here, as the composition root wires it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from pullcache.auth.authorization import Authorizer, NoPrincipalPolicies
from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.replication_ports import (
    ImageReplication,
    ReplicationConfiguration,
    ReplicationDestination,
    ReplicationRule,
    ReplicationState,
    RepositoryFilter,
)
from pullcache.ecr.replicator import (
    ACCESS_DENIED,
    IMAGE_NOT_FOUND,
    REGISTRY_NOT_FOUND,
    TAG_ALREADY_EXISTS,
    Replicator,
)
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.ports import MetadataStore
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule
from tests.memory_replication import MemoryReplicationStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest, index
from tests.stores import STEP_TIMEOUT, SqlRepositories, sqlite_metadata_store, sqlite_repositories, sqlite_url

SOURCE: Final = RegistryScope("111122223333", "us-east-1")
WEST: Final = ReplicationDestination("us-west-2", "111122223333")
PARTNER: Final = ReplicationDestination("eu-west-1", "444455556666")
ABSENT: Final = ReplicationDestination("eu-west-1", "999999999999")  # an account the server does not hold
REPO: Final = "prod/api"
CONFIG: Final = b'{"architecture":"amd64","os":"linux"}'
LAYER: Final = b"layer bytes"


class HeldAccounts:
    """KnownAccounts; `failures` makes that many lookups raise first (the database unavailable)."""

    def __init__(self, *accounts: str) -> None:
        self.accounts = set(accounts)
        self.failures = 0

    async def find_root_key(self, account_id: str) -> object | None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        return object() if account_id in self.accounts else None


class Policies:
    def __init__(self) -> None:
        self.registry: dict[RegistryScope, str] = {}

    async def find_registry_policy(self, scope: RegistryScope) -> str | None:
        return self.registry.get(scope)


class Replicas:
    """ReplicaRepositories: repositories with default settings, in the same SQLite file."""

    def __init__(self, repositories: SqlRepositories) -> None:
        self._repositories = repositories
        self.created: list[tuple[RegistryScope, str]] = []

    async def create_replica_repository(self, scope: RegistryScope, repository: str) -> None:
        self.created.append((scope, repository))
        await self._repositories.create(scope, repository)


@dataclass
class World:
    metadata: MetadataStore
    repositories: SqlRepositories
    ecr: SqlEcrStore
    writes: ManifestWrites
    store: MemoryReplicationStore
    accounts: HeldAccounts
    policies: Policies
    replicas: Replicas
    replicator: Replicator

    async def push(self, document: dict[str, object], tag: str | None = "v1", repository: str = REPO) -> Digest:
        """Link the image's blobs and store it through the registry's write path, as a push does."""
        content = encode(document)
        digest = Digest.of(content)
        for blob in (CONFIG, LAYER):
            await self.metadata.link_blob(SOURCE, repository, Digest.of(blob), len(blob))
        await self.writes.store(SOURCE, repository, self.writes.check(digest, content, None), tag)
        return digest

    async def settle(self) -> None:
        await asyncio.wait_for(self.replicator.wait(), STEP_TIMEOUT)

    def states(self, digest: Digest) -> dict[ReplicationDestination, tuple[ReplicationState, str | None]]:
        return {
            d: (r.state, r.failure_code) for (_, _, found, d), r in self.store.replications.items() if found == digest
        }


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with sqlite_metadata_store(tmp_path) as metadata, sqlite_repositories(tmp_path) as repositories:
        await repositories.create(SOURCE, REPO, "dev/web")
        engine = create_engine(sqlite_url(tmp_path / "metadata.db"))  # ECR's store over the same file
        writes = ManifestWrites(metadata)
        store = MemoryReplicationStore()
        policies = Policies()
        replicas = Replicas(repositories)
        accounts = HeldAccounts(SOURCE.account_id, PARTNER.registry_id)
        authorizer = Authorizer(NoPrincipalPolicies())
        replicator = Replicator(store, metadata, writes, accounts, policies, replicas, authorizer, retry_delays=(0.0,))
        writes.observe(replicator)
        yield World(
            metadata, repositories, SqlEcrStore(engine), writes, store, accounts, policies, replicas, replicator
        )
        await replicator.close()
        await engine.dispose()


def configure(world: World, *destinations: ReplicationDestination, prefix: str | None = "prod") -> None:
    filters = () if prefix is None else (RepositoryFilter(prefix),)
    world.store.configurations[SOURCE] = ReplicationConfiguration((ReplicationRule(destinations, filters),))


def simple_image(layer: bytes = LAYER) -> dict[str, object]:
    return image_manifest(descriptor(CONFIG, OCI_CONFIG), [descriptor(layer, OCI_LAYER)])


def allow_partner_policy(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReplicationAccessCrossAccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{SOURCE.account_id}:root"},
                    "Action": list(actions),
                    "Resource": f"arn:aws:ecr:{PARTNER.region}:{PARTNER.registry_id}:repository/*",
                }
            ],
        }
    )


async def test_a_pushed_image_is_copied_to_another_region_with_its_tag_and_blobs(world: World) -> None:
    configure(world, WEST)
    digest = await world.push(simple_image())
    assert world.states(digest) == {WEST: (ReplicationState.IN_PROGRESS, None)}  # recorded before the push returns
    await world.settle()
    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}
    west = WEST.scope()
    copied = await world.metadata.find_manifest(west, REPO, "v1")
    assert copied is not None
    assert copied.digest == digest
    assert await world.metadata.find_blob_size(west, REPO, Digest.of(LAYER)) == len(LAYER)
    assert await world.metadata.find_blob_size(west, REPO, Digest.of(CONFIG)) == len(CONFIG)
    assert world.replicas.created == [(west, REPO)]


async def test_a_repository_no_rule_covers_is_not_replicated(world: World) -> None:
    configure(world, WEST)
    digest = await world.push(simple_image(), repository="dev/web")
    await world.settle()
    assert world.states(digest) == {}
    assert not await world.metadata.repository_exists(WEST.scope(), "dev/web")


async def test_an_existing_destination_repository_is_used_as_it_is(world: World) -> None:
    configure(world, WEST)
    await world.repositories.create(WEST.scope(), REPO)
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}
    assert world.replicas.created == []


async def test_an_index_is_copied_with_its_child_manifests(world: World) -> None:
    configure(world, WEST)
    child = encode(simple_image())
    child_digest = await world.push(simple_image(), tag=None)
    parent = index([descriptor(child, mediatypes.OCI_MANIFEST)])
    await world.settle()
    # The child's own replication finished first; drop its copy to see the index bring it along.
    assert await world.metadata.delete_manifest(WEST.scope(), REPO, child_digest)
    digest = await world.push(parent, tag="multi")
    await world.settle()
    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}
    assert await world.metadata.find_manifest(WEST.scope(), REPO, child_digest) is not None
    tagged = await world.metadata.find_manifest(WEST.scope(), REPO, "multi")
    assert tagged is not None
    assert tagged.digest == digest


async def test_an_account_the_server_does_not_hold_fails_at_once(world: World) -> None:
    configure(world, ABSENT, WEST)
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {
        ABSENT: (ReplicationState.FAILED, REGISTRY_NOT_FOUND),
        WEST: (ReplicationState.COMPLETE, None),
    }


async def test_another_account_without_a_registry_policy_refuses_replication(world: World) -> None:
    configure(world, PARTNER)
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {PARTNER: (ReplicationState.FAILED, ACCESS_DENIED)}
    assert not await world.metadata.repository_exists(PARTNER.scope(), REPO)


async def test_a_new_repository_in_another_account_needs_create_repository_too(world: World) -> None:
    configure(world, PARTNER)
    world.policies.registry[PARTNER.scope()] = allow_partner_policy("ecr:ReplicateImage")
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {PARTNER: (ReplicationState.FAILED, ACCESS_DENIED)}


async def test_replicating_into_an_existing_repository_of_another_account_needs_no_create_repository(
    world: World,
) -> None:
    configure(world, PARTNER)
    world.policies.registry[PARTNER.scope()] = allow_partner_policy("ecr:ReplicateImage")
    await world.repositories.create(PARTNER.scope(), REPO)
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {PARTNER: (ReplicationState.COMPLETE, None)}


async def test_another_account_whose_registry_policy_allows_the_source_gets_the_image(world: World) -> None:
    configure(world, PARTNER)
    world.policies.registry[PARTNER.scope()] = allow_partner_policy("ecr:ReplicateImage", "ecr:CreateRepository")
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {PARTNER: (ReplicationState.COMPLETE, None)}
    copied = await world.metadata.find_manifest(PARTNER.scope(), REPO, "v1")
    assert copied is not None
    assert copied.digest == digest


async def test_an_immutable_tag_naming_another_image_in_the_destination_fails_the_replication(world: World) -> None:
    configure(world, WEST)
    first = await world.push(simple_image())
    await world.settle()
    await world.ecr.set_tag_mutability(WEST.scope(), REPO, TagMutabilityRule(TagMutability.IMMUTABLE))
    other_layer = b"other layer"
    await world.metadata.link_blob(SOURCE, REPO, Digest.of(other_layer), len(other_layer))
    second = await world.push(simple_image(other_layer))
    await world.settle()
    assert world.states(second) == {WEST: (ReplicationState.FAILED, TAG_ALREADY_EXISTS)}
    kept = await world.metadata.find_manifest(WEST.scope(), REPO, "v1")
    assert kept is not None
    assert kept.digest == first


async def test_an_image_deleted_before_its_copy_fails_as_not_found(world: World) -> None:
    configure(world, WEST)
    digest = Digest.of(encode(simple_image()))
    pending = ImageReplication(SOURCE, REPO, digest, WEST, ReplicationState.IN_PROGRESS, "v1")
    await world.store.put_replications([pending])
    assert await world.replicator.resume() == 1
    await world.settle()
    assert world.states(digest) == {WEST: (ReplicationState.FAILED, IMAGE_NOT_FOUND)}


async def test_what_was_in_progress_at_a_stop_is_copied_on_resume(world: World) -> None:
    configure(world, WEST)
    digest = await world.push(simple_image())
    await world.replicator.close()  # the server stops before the copy ran: the record stays IN_PROGRESS
    assert world.states(digest) == {WEST: (ReplicationState.IN_PROGRESS, None)}
    assert not await world.metadata.repository_exists(WEST.scope(), REPO)
    assert await world.replicator.resume() == 1
    await world.settle()
    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}
    assert await world.metadata.find_manifest(WEST.scope(), REPO, "v1") is not None


async def test_a_failed_attempt_is_retried(world: World) -> None:
    configure(world, WEST)
    world.accounts.failures = 1  # the first attempt fails on the database
    digest = await world.push(simple_image())
    await world.settle()
    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}


async def test_an_imported_image_is_replicated_when_announced_whole_not_when_stored(world: World) -> None:
    configure(world, WEST, prefix=None)
    content = encode(simple_image())
    digest = Digest.of(content)
    await world.writes.store_imported(SOURCE, REPO, world.writes.check(digest, content, None), "v1")
    await world.settle()
    assert world.states(digest) == {}  # its blobs are still on their way: nothing to copy yet

    for blob in (CONFIG, LAYER):
        await world.metadata.link_blob(SOURCE, REPO, Digest.of(blob), len(blob))
    await world.writes.announce_imported(SOURCE, REPO, digest, "v1")
    await world.settle()

    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}
    assert await world.metadata.find_manifest(WEST.scope(), REPO, "v1") is not None


async def test_an_imported_index_is_replicated_with_the_platforms_the_source_holds(world: World) -> None:
    configure(world, WEST)
    pulled = encode(simple_image())
    not_pulled = encode(simple_image(b"another platform's layer"))
    pulled_digest = await world.push(simple_image(), tag=None)
    await world.settle()
    parent = encode(
        index([descriptor(pulled, mediatypes.OCI_MANIFEST), descriptor(not_pulled, mediatypes.OCI_MANIFEST)])
    )
    digest = Digest.of(parent)
    await world.writes.store_imported(SOURCE, REPO, world.writes.check(digest, parent, None), "multi")
    await world.writes.announce_imported(SOURCE, REPO, digest, "multi")
    await world.settle()

    assert world.states(digest) == {WEST: (ReplicationState.COMPLETE, None)}
    assert await world.metadata.find_manifest(WEST.scope(), REPO, "multi") is not None
    assert await world.metadata.find_manifest(WEST.scope(), REPO, pulled_digest) is not None
    assert await world.metadata.find_manifest(WEST.scope(), REPO, Digest.of(not_pulled)) is None


async def test_a_failing_observer_never_fails_the_push(world: World) -> None:
    class Broken:
        async def manifest_stored(self, scope: RegistryScope, repository: str, digest: Digest, tag: str | None) -> None:
            raise RuntimeError("observer broken")

    world.writes.observe(Broken())
    digest = await world.push(simple_image())
    stored = await world.metadata.find_manifest(SOURCE, REPO, "v1")
    assert stored is not None
    assert stored.digest == digest
