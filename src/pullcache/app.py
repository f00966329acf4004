"""The composition root: the only place that wires services to adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from pullcache.aws.context import CallContext
from pullcache.aws.gateway import AwsGateway
from pullcache.aws.models import load_service_models
from pullcache.aws.operations import OperationTable, ServiceEndpoint
from pullcache.config import Settings
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.registry.api.context import REGISTRY
from pullcache.registry.api.routes import Handler, add_registry_routes, registry_errors
from pullcache.registry.service import RegistryService
from pullcache.storage.filesystem import FilesystemBlobStore
from pullcache.sts.operations import sts_operations

log = logging.getLogger(__name__)

# How often each worker looks for expired uploads; the purge is idempotent, so workers need not agree.
PURGE_INTERVAL = 3600.0
AWS_GATEWAY = web.AppKey("aws_gateway", AwsGateway)


def build_app(settings: Settings) -> web.Application:
    """The whole HTTP application over `settings`. The schema must be migrated already (see server.py)."""
    app = web.Application(middlewares=[request_ids, registry_errors])
    add_registry_routes(app)
    app.router.add_route("POST", "/", _aws_api)
    app.router.add_route("GET", "/", _aws_api)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        registry = RegistryService(
            FilesystemBlobStore(settings.data_dir),
            SqlMetadataStore(engine),
            max_manifest_bytes=settings.max_manifest_bytes,
        )
        app[REGISTRY] = registry
        models = load_service_models()
        tables: list[OperationTable[CallContext]] = [sts_operations(models.get("sts"))]
        app[AWS_GATEWAY] = AwsGateway(
            SqlAccountStore(engine),
            {table.model.service_name: ServiceEndpoint.for_table(table) for table in tables},
        )
        purger = asyncio.create_task(_purge_uploads(registry, timedelta(seconds=settings.upload_expiry)))
        yield
        purger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purger
        await engine.dispose()

    app.cleanup_ctx.append(resources)
    return app


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
