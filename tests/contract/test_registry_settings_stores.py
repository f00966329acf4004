"""ECR's registry settings (RegistrySettingsStore, and the PullTimeExclusionStore the record of pulls reads) and
lifecycle policy previews (LifecyclePreviewStore), over every SQL adapter: kept per account and region, a preview per
repository that goes with it."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import LimitExceeded
from pullcache.ecr.ports import (
    LifecyclePreviewStore,
    PreviewResult,
    PreviewStart,
    PreviewStatus,
    PullTimeExclusion,
    RegistrySettingsStore,
    RepositorySettings,
    ScanningConfiguration,
    ScanningRule,
)
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.metadata.sql_registry_settings import SqlLifecyclePreviewStore, SqlRegistrySettingsStore
from pullcache.registry.pull_records import PullTimeExclusionStore
from tests.stores import sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
OTHER_REGION: Final = RegistryScope("123456789012", "eu-west-1")
OTHER_ACCOUNT: Final = RegistryScope("210987654321", "us-east-1")
NOW: Final = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
COVERED: Final = {
    RegistrySettingsStore: {
        "find_scanning_configuration",
        "set_scanning_configuration",
        "set_scan_on_push",
        "find_account_setting",
        "set_account_setting",
        "add_pull_time_exclusion",
        "remove_pull_time_exclusion",
        "list_pull_time_exclusions",
    },
    LifecyclePreviewStore: {"begin_preview", "finish_preview", "find_preview"},
    PullTimeExclusionStore: {"list_all_pull_time_exclusions"},
}


async def sqlite_engine(scratch: Path) -> AsyncEngine:
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    await migrate(engine)
    return engine


ENGINES = [pytest.param(sqlite_engine, id="sqlite")]


@pytest.fixture(params=ENGINES)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    opened: AsyncEngine = await request.param(tmp_path)
    yield opened
    await opened.dispose()


def test_the_suite_covers_every_method_of_the_ports() -> None:
    for port, covered in COVERED.items():
        methods = {name for name, _ in inspect.getmembers(port, inspect.isfunction) if not name.startswith("_")}
        assert methods == covered, port


async def test_the_scanning_configuration_is_replaced_per_scope(engine: AsyncEngine) -> None:
    store = SqlRegistrySettingsStore(engine)
    assert await store.find_scanning_configuration(SCOPE) is None
    first = ScanningConfiguration("ENHANCED", (ScanningRule("CONTINUOUS_SCAN", ("prod-*", "*-live")),))
    await store.set_scanning_configuration(SCOPE, first, NOW)
    assert await store.find_scanning_configuration(SCOPE) == first
    second = ScanningConfiguration("BASIC", ())
    await store.set_scanning_configuration(SCOPE, second, NOW)
    assert await store.find_scanning_configuration(SCOPE) == second
    assert await store.find_scanning_configuration(OTHER_REGION) is None


async def test_scan_on_push_is_set_on_the_repository(engine: AsyncEngine) -> None:
    repositories, store = SqlEcrStore(engine), SqlRegistrySettingsStore(engine)
    await repositories.create_repository(SCOPE, "team/app", RepositorySettings(), [], NOW)
    assert await store.set_scan_on_push(SCOPE, "team/app", True) is True
    found = await repositories.find_repository(SCOPE, "team/app")
    assert found is not None
    assert found.settings.scan_on_push is True
    assert await store.set_scan_on_push(OTHER_ACCOUNT, "team/app", True) is False


async def test_account_settings_are_kept_per_scope_and_replaced(engine: AsyncEngine) -> None:
    store = SqlRegistrySettingsStore(engine)
    assert await store.find_account_setting(SCOPE, "BLOB_MOUNTING") is None
    await store.set_account_setting(SCOPE, "BLOB_MOUNTING", "ENABLED", NOW)
    await store.set_account_setting(SCOPE, "BLOB_MOUNTING", "DISABLED", NOW)
    await store.set_account_setting(OTHER_REGION, "BLOB_MOUNTING", "ENABLED", NOW)
    assert await store.find_account_setting(SCOPE, "BLOB_MOUNTING") == "DISABLED"
    assert await store.find_account_setting(OTHER_REGION, "BLOB_MOUNTING") == "ENABLED"
    assert await store.find_account_setting(OTHER_ACCOUNT, "BLOB_MOUNTING") is None


async def test_pull_time_exclusions_are_added_once_listed_in_order_and_removed(engine: AsyncEngine) -> None:
    store = SqlRegistrySettingsStore(engine)
    user, role = f"arn:aws:iam::{SCOPE.account_id}:user/u", f"arn:aws:iam::{SCOPE.account_id}:role/r"
    assert await store.add_pull_time_exclusion(SCOPE, user, NOW, 2) == PullTimeExclusion(user, NOW)
    assert await store.add_pull_time_exclusion(SCOPE, user, NOW, 2) is None
    assert await store.add_pull_time_exclusion(SCOPE, role, NOW, 2) == PullTimeExclusion(role, NOW)
    with pytest.raises(LimitExceeded):
        await store.add_pull_time_exclusion(SCOPE, user + "2", NOW, 2)
    assert await store.list_pull_time_exclusions(SCOPE) == [PullTimeExclusion(role, NOW), PullTimeExclusion(user, NOW)]
    assert await store.list_pull_time_exclusions(OTHER_REGION) == []
    assert await store.remove_pull_time_exclusion(SCOPE, user) is True
    assert await store.remove_pull_time_exclusion(SCOPE, user) is False
    assert await store.list_pull_time_exclusions(SCOPE) == [PullTimeExclusion(role, NOW)]


async def test_every_scopes_pull_time_exclusions_are_read_at_once(engine: AsyncEngine) -> None:
    store = SqlRegistrySettingsStore(engine)
    user, role = f"arn:aws:iam::{SCOPE.account_id}:user/u", f"arn:aws:iam::{OTHER_ACCOUNT.account_id}:role/r"
    assert await store.list_all_pull_time_exclusions() == []
    await store.add_pull_time_exclusion(SCOPE, user, NOW, 2)
    await store.add_pull_time_exclusion(OTHER_REGION, user, NOW, 2)
    await store.add_pull_time_exclusion(OTHER_ACCOUNT, role, NOW, 2)

    assert sorted(await store.list_all_pull_time_exclusions(), key=str) == sorted(
        [(SCOPE, user), (OTHER_REGION, user), (OTHER_ACCOUNT, role)], key=str
    )


async def test_a_preview_is_begun_once_finished_and_goes_with_its_repository(engine: AsyncEngine) -> None:
    repositories, store = SqlEcrStore(engine), SqlLifecyclePreviewStore(engine)
    later = NOW + timedelta(minutes=1)
    assert await store.begin_preview(SCOPE, "team/app", "policy", NOW, NOW) is PreviewStart.NO_REPOSITORY
    await repositories.create_repository(SCOPE, "team/app", RepositorySettings(), [], NOW)
    assert await store.find_preview(SCOPE, "team/app") is None
    assert await store.begin_preview(SCOPE, "team/app", "policy", NOW, NOW) is PreviewStart.STARTED
    assert await store.begin_preview(SCOPE, "team/app", "other", later, NOW) is PreviewStart.IN_PROGRESS
    found = await store.find_preview(SCOPE, "team/app")
    assert found is not None
    assert (found.text, found.status, found.results) == ("policy", PreviewStatus.IN_PROGRESS, ())

    result = PreviewResult(Digest.parse("sha256:" + "a" * 64), ("v1", "latest"), NOW - timedelta(days=3), 2, "expire")
    await store.finish_preview(SCOPE, "team/app", NOW, PreviewStatus.COMPLETE, [result])
    found = await store.find_preview(SCOPE, "team/app")
    assert found is not None
    assert (found.status, found.results, found.started_at) == (
        PreviewStatus.COMPLETE,
        (result,),
        NOW,
    )
    assert await store.find_preview(OTHER_REGION, "team/app") is None

    assert await store.begin_preview(SCOPE, "team/app", "next", later, NOW) is PreviewStart.STARTED
    await store.finish_preview(SCOPE, "team/app", NOW, PreviewStatus.FAILED, [])  # an older preview: no effect
    found = await store.find_preview(SCOPE, "team/app")
    assert found is not None
    assert (found.text, found.status) == ("next", PreviewStatus.IN_PROGRESS)
    assert await store.begin_preview(SCOPE, "team/app", "stale", later, later + timedelta(seconds=1)) is (
        PreviewStart.STARTED
    )

    await repositories.delete_repository(SCOPE, "team/app", force=True)
    await repositories.create_repository(SCOPE, "team/app", RepositorySettings(), [], NOW)
    assert await store.find_preview(SCOPE, "team/app") is None
