"""The composition root: the only place that wires services to adapters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from aiohttp import web

from pullcache.config import Settings
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.registry.api.context import REGISTRY
from pullcache.registry.api.routes import Handler, add_registry_routes, registry_errors
from pullcache.registry.service import RegistryService
from pullcache.storage.filesystem import FilesystemBlobStore


def build_app(settings: Settings) -> web.Application:
    """The whole HTTP application over `settings`. The schema must be migrated already (see server.py)."""
    app = web.Application(middlewares=[request_ids, registry_errors])
    add_registry_routes(app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        app[REGISTRY] = RegistryService(
            FilesystemBlobStore(settings.data_dir),
            SqlMetadataStore(engine),
            max_manifest_bytes=settings.max_manifest_bytes,
        )
        yield
        await engine.dispose()

    app.cleanup_ctx.append(resources)
    return app


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = uuid.uuid4().hex
    request["request_id"] = request_id
    response = await handler(request)
    response.headers["X-Request-Id"] = request_id
    return response
