"""Admin commands over a data dir: they open its database themselves, and are safe while the server runs.

SQLite in WAL mode lets this process write while the server's workers read, writers queue on the write lock
(metadata/engine.py), and the server looks access keys up in the database on every request, so an account created
here signs its first request as soon as the command returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.auth import accounts
from pullcache.config import DATABASE_FILE, Settings
from pullcache.core.scopes import RegistryScope
from pullcache.exclusive_jobs import ExclusiveJob
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_collection import SqlCollectionStore
from pullcache.metadata.sql_pullthrough import SqlPullThroughStore
from pullcache.metadata.sql_repository_usage import RepositoryUsage, SqlRepositoryUsage
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.collection import GC_JOB, CollectionReport, GarbageCollector, Progress
from pullcache.storage.content_guard import FileContentGuard
from pullcache.storage.filesystem import FilesystemBlobStore


class RuleNotFound(LookupError):
    """No pull-through cache rule has that prefix in that account and region."""


class NoDatabase(LookupError):
    """The data dir holds no database: it is not one a server has run over (and a listing creates none)."""


def create_account(
    data_dir: Path,
    account_id: str,
    *,
    database_url: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> accounts.CreatedAccount:
    """Migrate the database if needed, then create the account and its client files (see auth/accounts.py).

    `region` and `endpoint_url` default to those of `<data-dir>/config`, else to `pullcache serve`'s defaults.
    Raises an AccountError before touching anything when a value is malformed.
    """
    written = accounts.read_client_defaults(data_dir)
    serve_defaults = Settings()
    chosen_region = region or written.region or serve_defaults.region
    chosen_endpoint = endpoint_url or written.endpoint_url or serve_defaults.endpoint_url
    accounts.check_account_id(account_id)
    accounts.check_region(chosen_region)
    accounts.check_endpoint_url(chosen_endpoint)
    settings = Settings(data_dir=data_dir, database_url=database_url, region=chosen_region)
    data_dir.mkdir(parents=True, exist_ok=True)
    # The first start's CA bundle (a server with a local CA) goes along with an https endpoint.
    https = chosen_endpoint.startswith("https://")
    ca_bundle = Path(written.ca_bundle) if https and written.ca_bundle else None
    return asyncio.run(_create(settings, account_id, chosen_endpoint, ca_bundle))


async def _create(
    settings: Settings, account_id: str, endpoint_url: str, ca_bundle: Path | None
) -> accounts.CreatedAccount:
    async with _migrated(settings) as engine:
        return await accounts.create_account(
            SqlAccountStore(engine), settings.data_dir, account_id, settings.region, endpoint_url, ca_bundle
        )


@asynccontextmanager
async def _migrated(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The settings' database, migrated if needed; disposed of on the way out."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


def list_rules(data_dir: Path, scope: RegistryScope, *, database_url: str | None = None) -> list[PullThroughRule]:
    """The pull-through cache rules of one account and region, in order of prefix. Raises NoDatabase."""
    _require_database(data_dir, database_url)
    return asyncio.run(_list_rules(Settings(data_dir=data_dir, database_url=database_url), scope))


def set_tag_ttl(
    data_dir: Path, scope: RegistryScope, prefix: str, ttl: timedelta, *, database_url: str | None = None
) -> PullThroughRule:
    """Change how long one rule serves a cached tag before asking its upstream again (ECR's API has no field for
    it). Running workers apply it within a second. Raises RuleNotFound, NoDatabase."""
    if ttl < timedelta(0):
        raise ValueError("a tag TTL is not negative")
    _require_database(data_dir, database_url)
    return asyncio.run(_set_tag_ttl(Settings(data_dir=data_dir, database_url=database_url), scope, prefix, ttl))


def list_repositories(
    data_dir: Path, scope: RegistryScope, *, database_url: str | None = None
) -> list[RepositoryUsage]:
    """The repositories of one account and region with their image and pull counts and their last pull (ECR's
    API has no field for the pull count), as the workers last flushed them. Raises NoDatabase."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    _require_database(data_dir, database_url)
    return asyncio.run(_list_repositories(settings, scope))


def _require_database(data_dir: Path, database_url: str | None) -> None:
    """Raise NoDatabase unless the data dir holds the embedded database (or another database is named): a command
    that only reads or changes what a server wrote creates none."""
    if database_url is None and not (data_dir / DATABASE_FILE).is_file():
        raise NoDatabase(f"no database in {data_dir} ({DATABASE_FILE}): is it the server's --data-dir?")


async def _list_repositories(settings: Settings, scope: RegistryScope) -> list[RepositoryUsage]:
    async with _migrated(settings) as engine:
        return list(await SqlRepositoryUsage(engine).list_usage(scope))


async def _list_rules(settings: Settings, scope: RegistryScope) -> list[PullThroughRule]:
    async with _migrated(settings) as engine:
        return list(await SqlPullThroughStore(engine).list_rules(scope))


async def _set_tag_ttl(settings: Settings, scope: RegistryScope, prefix: str, ttl: timedelta) -> PullThroughRule:
    async with _migrated(settings) as engine:
        store = SqlPullThroughStore(engine)
        rule = await store.find_rule(scope, prefix.rstrip("/"))
        if rule is None:
            raise RuleNotFound(
                f"no pull-through cache rule with prefix {prefix!r} in {scope.account_id} {scope.region}"
            )
        changed = replace(rule, tag_ttl=ttl)
        await store.replace_rule(changed)
        return changed


class CollectionRunning(Exception):
    """Another collection (the server's, or another command's) holds the data dir's collector lock."""


def collect_garbage(
    data_dir: Path,
    *,
    database_url: str | None = None,
    grace: timedelta | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    wait: float = 0.0,
) -> CollectionReport:
    """One garbage collection over the data dir (registry/collection.py), beside the server or not. `wait`:
    seconds to wait for a collection under way to end. Raises CollectionRunning when it does not."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    chosen_grace = grace if grace is not None else timedelta(seconds=settings.gc_grace)
    return asyncio.run(_collect(settings, chosen_grace, dry_run, progress, wait))


async def _collect(
    settings: Settings, grace: timedelta, dry_run: bool, progress: Progress | None, wait: float
) -> CollectionReport:
    async with _migrated(settings) as engine:
        collector = GarbageCollector(
            SqlCollectionStore(engine),
            FilesystemBlobStore(settings.data_dir),
            FileContentGuard(settings.data_dir),
            grace=grace,
            staged_expiry=timedelta(seconds=settings.upload_expiry),
        )
        reports: list[CollectionReport] = []

        async def collect() -> None:
            reports.append(await collector.collect(dry_run=dry_run, progress=progress))

        job = ExclusiveJob(GC_JOB, settings.data_dir, collect)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            if await job.run_once():
                return reports[0]
            if asyncio.get_running_loop().time() >= deadline:
                raise CollectionRunning("a garbage collection is under way in this data dir; try again when it ends")
            await asyncio.sleep(0.5)
