"""The composition root: the only place that wires services to adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.audit.recorders import (
    AwsCallRecorder,
    DeletionTaskRecorder,
    RegistryCallRecorder,
    RoleActivityRecorder,
    RoleCreationRecorder,
)
from pullcache.audit.redaction import Redactor
from pullcache.audit.writer import AuditWriter
from pullcache.auth.authorization import Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.auth.credential_chain import CredentialChain
from pullcache.auth.registry_access import RegistryAccess
from pullcache.auth.registry_tokens import load_registry_tokens
from pullcache.aws.gateway import AwsGateway
from pullcache.aws.models import load_service_models
from pullcache.aws.operations import OperationTable, ServiceEndpoint
from pullcache.config import Settings
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.account_settings import EcrAccountSettings
from pullcache.ecr.api.lifecycle import LifecyclePolicyOperations
from pullcache.ecr.api.lifecycle_preview import LifecyclePreviewOperations
from pullcache.ecr.api.operations import EcrOperations, ecr_operations
from pullcache.ecr.api.ports import EcrExtension
from pullcache.ecr.api.referrers import ReferrerOperations
from pullcache.ecr.api.registry_settings import RegistrySettingsOperations
from pullcache.ecr.api.replication import ReplicationOperations
from pullcache.ecr.api.scanning import ScanningOperations
from pullcache.ecr.images import EcrImages
from pullcache.ecr.layers import EcrLayers
from pullcache.ecr.lifecycle import EcrLifecyclePolicies
from pullcache.ecr.lifecycle_expiry import LifecycleExpiry
from pullcache.ecr.lifecycle_preview import LifecyclePolicyPreviews
from pullcache.ecr.pull_time_exclusions import PullTimeExclusions
from pullcache.ecr.referrers import ImageReferrers
from pullcache.ecr.replication import ReplicationService
from pullcache.ecr.replicator import Replicator
from pullcache.ecr.scanning import EcrScanning
from pullcache.ecr.service import EcrService
from pullcache.exclusive_jobs import ExclusiveJob
from pullcache.health import READINESS, ReadinessCheck, add_health_routes
from pullcache.iam.api.operations import iam_operations
from pullcache.iam.principal_policies import IamPrincipalPolicies
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import ServiceLinkedRoleService
from pullcache.metadata.engine import DataGroup, check_database, create_engine, read_cache
from pullcache.metadata.reads import open_reads
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_collection import SqlCollectionStore
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.metadata.sql_eviction import SqlEvictionStore
from pullcache.metadata.sql_iam import SqlIamStore
from pullcache.metadata.sql_iam_tasks import SqlRoleDeletionTaskStore
from pullcache.metadata.sql_keys import SqlSigningKeyStore
from pullcache.metadata.sql_lifecycle import SqlLifecyclePolicyStore
from pullcache.metadata.sql_pullthrough import SqlPullThroughStore
from pullcache.metadata.sql_registry_settings import SqlLifecyclePreviewStore, SqlRegistrySettingsStore
from pullcache.metadata.sql_replication import SqlReplicationStore
from pullcache.metadata.sql_secrets import SqlSecretStore
from pullcache.metadata.sql_storage_census import SqlStorageCensus
from pullcache.metadata.sql_sts import SqlSessionStore
from pullcache.observability.exposition import EXPOSITION, MetricsExposition, add_metrics_route
from pullcache.observability.http_metrics import flushing, request_metrics
from pullcache.observability.metrics import PrometheusMetrics
from pullcache.observability.request_tally import RequestTally
from pullcache.pullthrough.api.operations import PullThroughOperations
from pullcache.pullthrough.background import BackgroundWork
from pullcache.pullthrough.blob_imports import BlobImporter
from pullcache.pullthrough.cached_repositories import SecretCredentials, TemplatedRepositories
from pullcache.pullthrough.eviction import CacheEviction
from pullcache.pullthrough.fills import BlobFills
from pullcache.pullthrough.imports_in_flight import ImportsInFlight
from pullcache.pullthrough.manifest_imports import ManifestImporter
from pullcache.pullthrough.mirror_names import RuleMirrors
from pullcache.pullthrough.repositories_to_be import CachedRepositoriesToBe
from pullcache.pullthrough.role_usage import PullThroughRoleUsage
from pullcache.pullthrough.rule_resolver import RuleResolver
from pullcache.pullthrough.rule_upstream import RuleUpstream
from pullcache.pullthrough.service import PullThroughRuleService
from pullcache.pullthrough.service_role import ServiceRole
from pullcache.pullthrough.source import PullThroughSource
from pullcache.pullthrough.templates import RepositoryTemplateService
from pullcache.pullthrough.upstream import UpstreamClient
from pullcache.registry.api.access import ACCESS_CONTROL, AccessControl
from pullcache.registry.api.call_records import REGISTRY_CALLS, registry_calls
from pullcache.registry.api.context import DEFAULT_SCOPE, REGISTRY
from pullcache.registry.api.mirror import MIRRORS, Mirrors
from pullcache.registry.api.routes import Handler, add_registry_routes, registry_access, registry_errors
from pullcache.registry.collection import GC_JOB, GarbageCollector
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.pull_records import PullRecords
from pullcache.registry.service import RegistryService
from pullcache.secrets.api.operations import secrets_operations
from pullcache.secrets.cipher import SecretCipher
from pullcache.secrets.service import SecretsService
from pullcache.storage.content_guard import FileContentGuard
from pullcache.storage.filesystem import FilesystemBlobStore
from pullcache.sts.api.operations import sts_operations
from pullcache.sts.credentials import SessionCredentialStore
from pullcache.sts.service import StsService
from pullcache.sts.session_policies import StsSessionPolicies

log = logging.getLogger(__name__)

# How often each worker looks for expired uploads; the purge is idempotent, so workers need not agree.
PURGE_INTERVAL = 3600.0
AWS_GATEWAY = web.AppKey("aws_gateway", AwsGateway)


def build_app(settings: Settings) -> web.Application:
    """The whole HTTP application over `settings`. The schema must be migrated already (see server.py)."""
    # Every request counted (observability/): the outermost middleware, to see the status the others rendered.
    metrics = PrometheusMetrics()
    requests = RequestTally(metrics)
    # The audit trail's /v2/ records (registry_calls) see each request's rendered answer, errors included.
    app = web.Application(
        middlewares=[request_metrics(requests), request_ids, registry_calls, registry_errors, registry_access]
    )
    app.cleanup_ctx.append(flushing(requests))
    exposition = MetricsExposition(metrics, requests, settings.metrics_token)
    app[EXPOSITION] = exposition
    if settings.metrics_port is None:  # else the metrics port serves it alone (server.py)
        add_metrics_route(app, exposition)
    app[DEFAULT_SCOPE] = RegistryScope(settings.account_id, settings.region)
    add_registry_routes(app)
    add_health_routes(app)
    app.router.add_route("POST", "/", _aws_api)
    app.router.add_route("GET", "/", _aws_api)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        # The audit trail (audit/): every call that changes something, written by a thread of this worker.
        audit = AuditWriter(
            settings.data_dir, max_bytes=settings.audit_max_bytes, keep=settings.audit_keep, counts=metrics
        )
        audit.start()
        models = load_service_models()
        redactor = Redactor(models)  # what every record hides: the models' sensitive members and the table's
        app[REGISTRY_CALLS] = RegistryCallRecorder(audit, redactor, pulls=settings.audit_pulls)
        blob_store = FilesystemBlobStore(settings.data_dir)
        # Held by every write that makes content reachable; garbage collection deletes only while none is inside.
        guard = FileContentGuard(settings.data_dir)
        # The reads of pulls, kept between writes (metadata/read_cache.py): content and settings apart.
        content, settings_cache = read_cache(engine, DataGroup.CONTENT), read_cache(engine, DataGroup.SETTINGS)
        reads = open_reads(engine)  # the registry's reads on threads of their own (metadata/reads.py)
        metadata_store = SqlMetadataStore(engine, content, reads)
        iam_store = SqlIamStore(engine, settings_cache)
        sessions = SqlSessionStore(engine)
        principal_policies = IamPrincipalPolicies(iam_store, StsSessionPolicies(sessions))
        authorizer = Authorizer(principal_policies, metrics)  # one for every service: ECR, /v2/, IAM
        tokens = await load_registry_tokens(SqlSigningKeyStore(engine))
        credentials = CredentialChain(SqlAccountStore(engine), SessionCredentialStore(sessions))
        ecr_store = SqlEcrStore(engine, settings_cache)
        pull_through_store = SqlPullThroughStore(engine)
        rule_resolver = RuleResolver(pull_through_store)  # which rule covers a repository, as this worker knows them
        templates = RepositoryTemplateService(pull_through_store)
        access = AccessControl(
            RegistryAccess(
                tokens,
                authorizer,
                ecr_store,
                credentials,
                anonymous_is_root=settings.anonymous_registry,
                observer=metrics,
                to_be=CachedRepositoriesToBe(rule_resolver, templates, metadata_store),
            )
        )
        app[ACCESS_CONTROL] = access
        repositories = EcrService(ecr_store, tokens)
        lifecycle = EcrLifecyclePolicies(ecr_store, SqlLifecyclePolicyStore(engine))
        secrets = SecretsService(SqlSecretStore(engine), await SecretCipher.load(SqlSigningKeyStore(engine)))
        service_linked_roles = ServiceLinkedRoleService(
            iam_store,
            SqlRoleDeletionTaskStore(engine),
            PullThroughRoleUsage(pull_through_store),
            observer=DeletionTaskRecorder(audit),
        )
        # One policy for both: rules refused by their URL, connections (redirects and token realms too) by address.
        destinations = settings.upstream_destinations
        upstream = UpstreamClient(
            destinations=destinations,
            connect_timeout=settings.upstream_connect_timeout,
            first_byte_timeout=settings.upstream_first_byte_timeout,
            idle_timeout=settings.upstream_idle_timeout,
            request_timeout=settings.upstream_request_timeout,
            failures_to_open=settings.upstream_breaker_failures,
            cool_down=settings.upstream_breaker_cooldown,
            observer=metrics,
        )
        rules = PullThroughRuleService(
            pull_through_store,
            secrets,
            upstream,
            service_linked_roles,
            tag_ttl=timedelta(seconds=settings.tag_ttl),
            destinations=destinations,
        )
        # Every manifest write (a /v2/ push, PutImage, a pull-through import) takes this one path.
        manifest_writes = ManifestWrites(metadata_store, settings.max_manifest_bytes, guard=guard)
        # The pull-through cache: its parts, composed into the registry's ContentSource.
        role = ServiceRole(
            service_linked_roles, access, ImportsInFlight(pull_through_store), RoleActivityRecorder(audit, redactor)
        )
        templated = TemplatedRepositories(templates, repositories, lifecycle)  # on first pull, and on push
        rule_upstream = RuleUpstream(upstream, SecretCredentials(rules))
        background = BackgroundWork()
        fills = BlobFills(blob_store, settings.data_dir / "fills", guard=guard, observer=metrics)
        blob_imports = BlobImporter(
            rule_upstream, role, blob_store, metadata_store, fills, background, guard=guard, observer=metrics
        )
        manifest_imports = ManifestImporter(
            rule_upstream,
            role,
            templated,
            manifest_writes,
            metadata_store,
            blob_imports,
            background,
            prefetch_platforms=settings.prefetch_platforms,
            tag_check_timeout=settings.upstream_tag_check_timeout,
            observer=metrics,
        )
        source = PullThroughSource(rule_resolver, manifest_imports, blob_imports, role, background, observer=metrics)
        # Runtimes that use this server as a registry mirror: served from the repositories of the rules.
        app[MIRRORS] = Mirrors(RuleMirrors(rule_resolver, settings.docker_hub_mirror), settings.docker_hub_mirror_port)
        # A push into a repository that does not exist: created when a CREATE_ON_PUSH template covers it.
        # Pulls counted in memory and written in the background, each worker its own (registry/pull_records.py);
        # the pull time update exclusions read before the first pull and again at each flush.
        pulls = (
            PullRecords(metadata_store, exclusions=SqlRegistrySettingsStore(engine)) if settings.record_pulls else None
        )
        if pulls is not None:
            await pulls.load_exclusions()
            pulls.start(settings.pull_flush_interval)
        registry = RegistryService(
            blob_store, metadata_store, manifest_writes, templated, source=source, pulls=pulls, guard=guard
        )
        app[REGISTRY] = registry
        readiness: dict[str, ReadinessCheck] = {
            "database": lambda: check_database(engine),
            "blob store": blob_store.check_writable,
        }
        app[READINESS] = readiness
        # ECR's replication: each pushed image copied to the destinations of its registry's configuration, in the
        # background; what a stop left in progress starts again here.
        replication_store = SqlReplicationStore(engine)
        accounts = SqlAccountStore(engine)
        replicator = Replicator(
            replication_store, metadata_store, manifest_writes, accounts, ecr_store, templated, authorizer, guard=guard
        )
        manifest_writes.observe(replicator)
        await replicator.resume()
        sts = StsService(iam_store, principal_policies, sessions)
        tables: list[OperationTable[CallContext]] = [sts_operations(models.get("sts"), sts)]
        ecr = EcrOperations(
            repositories,
            EcrImages(repositories, registry, ecr_store),
            EcrLayers(repositories, registry, tokens),
            authorizer,
            settings.public_hosts,
        )
        tables.append(iam_operations(models.get("iam"), IamService.over(iam_store), authorizer, service_linked_roles))
        tables.append(secrets_operations(models.get("secretsmanager"), secrets, authorizer))
        pull_through = PullThroughOperations(
            rules, templates, ecr.authorize, authorizer, RoleCreationRecorder(audit, redactor)
        )
        replication = ReplicationOperations(ReplicationService(replication_store, metadata_store), ecr.authorize)
        lifecycle_operations = LifecyclePolicyOperations(lifecycle, ecr.authorize)
        referrers = ReferrerOperations(ImageReferrers(repositories, registry), ecr.authorize)
        # Lifecycle policy previews, scanning settings (no scanner), account settings, pull time exclusions.
        registry_settings = SqlRegistrySettingsStore(engine)
        previews = LifecyclePolicyPreviews(
            ecr_store, SqlLifecyclePolicyStore(engine), ecr_store, SqlLifecyclePreviewStore(engine)
        )
        settings_operations: list[EcrExtension] = [
            LifecyclePreviewOperations(previews, ecr.authorize),
            ScanningOperations(
                EcrScanning(registry_settings, ecr_store, EcrImages(repositories, registry, ecr_store)),
                ecr.authorize,
            ),
            RegistrySettingsOperations(
                EcrAccountSettings(registry_settings), PullTimeExclusions(registry_settings), ecr.authorize
            ),
        ]
        tables.append(
            ecr_operations(
                models.get("ecr"),
                ecr,
                [pull_through, lifecycle_operations, replication, referrers, *settings_operations],
            )
        )
        app[AWS_GATEWAY] = AwsGateway(
            credentials,
            {table.model.service_name: ServiceEndpoint.for_table(table) for table in tables},
            metrics,
            AwsCallRecorder(audit, redactor, pulls=settings.audit_pulls),
        )
        purger = asyncio.create_task(_purge_uploads(registry, timedelta(seconds=settings.upload_expiry)))
        # Lifecycle policies applied every interval, by one worker at a time (exclusive_jobs.py); 0: never.
        expiry = LifecycleExpiry(SqlLifecyclePolicyStore(engine), ecr_store, registry)
        expirer = None
        if settings.lifecycle_interval > 0:
            job = ExclusiveJob("lifecycle-expiry", settings.data_dir, expiry.run)
            expirer = asyncio.create_task(job.run_every(settings.lifecycle_interval))
        # Garbage collection, online, and the cache's eviction under its size cap: one of them at a time, in one
        # worker at a time (registry/collection.py, pullthrough/eviction.py); an interval of 0: never.
        exposition.count_storage_with(SqlStorageCensus(engine))
        jobs = [expirer, *housekeeping(settings, engine, blob_store, guard, metadata_store, metrics)]
        yield
        await source.close()
        await replicator.close()
        await upstream.close()
        await service_linked_roles.aclose()
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
        for job_task in jobs:
            if job_task is not None:
                job_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job_task
        if pulls is not None:
            await pulls.close()  # what the last interval gathered, written before the engine goes
        await reads.close()
        await engine.dispose()
        await asyncio.to_thread(audit.close)  # what is queued written before the worker goes

    app.cleanup_ctx.append(resources)
    return app


def housekeeping(
    settings: Settings,
    engine: AsyncEngine,
    blobs: FilesystemBlobStore,
    guard: FileContentGuard,
    images: SqlMetadataStore,
    metrics: PrometheusMetrics,
) -> list[asyncio.Task[None]]:
    """The periodic garbage collection and eviction, started: both under the collector's lock, so the server's
    runs, its evictions and `pullcache gc` take turns. Each run's report is counted in `metrics`."""
    collector = GarbageCollector(
        SqlCollectionStore(engine),
        blobs,
        guard,
        grace=timedelta(seconds=settings.gc_grace),
        staged_expiry=timedelta(seconds=settings.upload_expiry),
    )
    eviction = CacheEviction(
        SqlEvictionStore(engine),
        images,
        collector,
        max_bytes=settings.cache_max_bytes,
        min_free_bytes=settings.cache_min_free_bytes,
        free_bytes=lambda: shutil.disk_usage(settings.data_dir).free,
    )

    async def collect() -> None:
        report = await collector.collect()
        log.info("garbage collection: %s", report.summary(), extra={"fields": {"bytes_freed": report.bytes_freed}})
        metrics.collected(blobs=report.blobs, bytes_freed=report.bytes_freed, seconds=report.seconds)

    async def evict() -> None:
        report = await eviction.run()
        metrics.evicted(images=report.images, bytes_freed=report.bytes_freed, bytes_after=report.bytes_after)

    started: list[asyncio.Task[None]] = []
    if settings.gc_interval > 0:
        collection = ExclusiveJob(GC_JOB, settings.data_dir, collect)
        started.append(asyncio.create_task(collection.run_every(settings.gc_interval)))
    if eviction.enabled:
        job = ExclusiveJob(GC_JOB, settings.data_dir, evict)
        started.append(asyncio.create_task(job.run_every(settings.eviction_interval)))
    return started


async def _aws_api(request: web.Request) -> web.StreamResponse:
    return await request.app[AWS_GATEWAY].handle(request)


async def _purge_uploads(registry: RegistryService, expiry: timedelta) -> None:
    while True:
        try:
            purged = await registry.purge_uploads(expiry)
        except Exception:
            log.exception("purging expired uploads failed; trying again later")
        else:
            if purged:
                log.info("purged expired uploads", extra={"fields": {"count": purged}})
        await asyncio.sleep(PURGE_INTERVAL)


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = uuid.uuid4().hex
    request["request_id"] = request_id
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response
