"""ECR's ReplicationStore (ecr/replication_ports.py) over every adapter: SQL, and the memory double the replicator's
unit tests use."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.replication_ports import (
    ImageReplication,
    ReplicationConfiguration,
    ReplicationDestination,
    ReplicationRule,
    ReplicationState,
    ReplicationStore,
    RepositoryFilter,
)
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_replication import SqlReplicationStore
from tests.memory_replication import MemoryReplicationStore
from tests.stores import sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_REGION: Final = RegistryScope("123456789012", "eu-west-1")
WEST: Final = ReplicationDestination("us-west-2", "123456789012")
PARTNER: Final = ReplicationDestination("eu-west-1", "210987654321")
DIGEST: Final = Digest.of(b"image")
NOW: Final = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
COVERED: Final = {
    "find_configuration",
    "put_configuration",
    "put_replications",
    "list_replications",
    "list_in_progress",
}

StoreFactory = Callable[[Path], Awaitable[tuple[ReplicationStore, Callable[[], Awaitable[None]]]]]


async def sql_store(scratch: Path) -> tuple[ReplicationStore, Callable[[], Awaitable[None]]]:
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    await migrate(engine)
    return SqlReplicationStore(engine), engine.dispose


async def memory_store(scratch: Path) -> tuple[ReplicationStore, Callable[[], Awaitable[None]]]:
    async def nothing() -> None:
        return None

    return MemoryReplicationStore(), nothing


@pytest.fixture(params=[pytest.param(sql_store, id="sqlite"), pytest.param(memory_store, id="memory")])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReplicationStore]:
    factory: StoreFactory = request.param
    opened, close = await factory(tmp_path)
    yield opened
    await close()


def replication(
    destination: ReplicationDestination, state: ReplicationState, scope: RegistryScope = SCOPE, **fields: object
) -> ImageReplication:
    base = ImageReplication(scope, "prod/api", DIGEST, destination, state, "v1", None, NOW)
    return replace(base, **fields)  # type: ignore[arg-type]


def test_the_suite_covers_every_method_of_the_port() -> None:
    methods = {name for name, _ in inspect.getmembers(ReplicationStore, inspect.isfunction) if not name.startswith("_")}
    assert methods == COVERED


async def test_a_registry_has_no_configuration_until_one_is_put(store: ReplicationStore) -> None:
    assert await store.find_configuration(SCOPE) is None


async def test_a_configuration_round_trips_per_registry_and_is_replaced_whole(store: ReplicationStore) -> None:
    first = ReplicationConfiguration(
        (
            ReplicationRule((WEST, PARTNER), (RepositoryFilter("prod"), RepositoryFilter("team/")), False),
            ReplicationRule((PARTNER,)),
        )
    )
    second = ReplicationConfiguration((ReplicationRule((WEST,), (), None),))
    await store.put_configuration(SCOPE, first)
    await store.put_configuration(OTHER_REGION, ReplicationConfiguration())
    assert await store.find_configuration(SCOPE) == first
    assert await store.find_configuration(OTHER_REGION) == ReplicationConfiguration()
    await store.put_configuration(SCOPE, second)
    assert await store.find_configuration(SCOPE) == second


async def test_replications_are_listed_per_image_in_order_of_destination(store: ReplicationStore) -> None:
    await store.put_replications(
        [replication(PARTNER, ReplicationState.IN_PROGRESS), replication(WEST, ReplicationState.IN_PROGRESS)]
    )
    await store.put_replications([replication(WEST, ReplicationState.IN_PROGRESS, digest=Digest.of(b"other"))])
    assert await store.list_replications(SCOPE, "prod/api", DIGEST) == [
        replication(WEST, ReplicationState.IN_PROGRESS),
        replication(PARTNER, ReplicationState.IN_PROGRESS),
    ]
    assert await store.list_replications(OTHER_REGION, "prod/api", DIGEST) == []


async def test_a_replication_put_again_replaces_its_state_code_and_tag(store: ReplicationStore) -> None:
    await store.put_replications([replication(PARTNER, ReplicationState.IN_PROGRESS)])
    failed = replication(PARTNER, ReplicationState.FAILED, failure_code="AccessDenied", tag="v2")
    await store.put_replications([failed])
    assert await store.list_replications(SCOPE, "prod/api", DIGEST) == [failed]


async def test_what_is_in_progress_is_listed_across_registries(store: ReplicationStore) -> None:
    pending = [
        replication(WEST, ReplicationState.IN_PROGRESS),
        replication(WEST, ReplicationState.IN_PROGRESS, scope=OTHER_REGION, tag=None),
    ]
    await store.put_replications([*pending, replication(PARTNER, ReplicationState.COMPLETE)])
    found = await store.list_in_progress()
    assert sorted(found, key=lambda r: r.source.region) == sorted(pending, key=lambda r: r.source.region)
