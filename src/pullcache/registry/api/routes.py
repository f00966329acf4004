"""Every endpoint of the OCI Distribution API, and the middleware that renders its errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from pullcache.registry.api import blobs, discovery, manifests, uploads
from pullcache.registry.api.errors import render, render_error
from pullcache.registry.errors import RegistryError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NAME = "/v2/{name:.+}"
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")


def add_registry_routes(app: web.Application) -> None:
    app.router.add_get("/v2/", discovery.version_check)
    app.router.add_get("/v2/_catalog", discovery.catalog)
    app.router.add_get(f"{_NAME}/tags/list", discovery.list_tags)
    app.router.add_get(f"{_NAME}/referrers/{{digest}}", discovery.list_referrers)
    for path in (f"{_NAME}/blobs/uploads/", f"{_NAME}/blobs/uploads"):
        app.router.add_post(path, uploads.start_upload)
    upload = f"{_NAME}/blobs/uploads/{{upload}}"
    app.router.add_get(upload, uploads.upload_status, allow_head=False)
    app.router.add_patch(upload, uploads.append_chunk)
    app.router.add_put(upload, uploads.complete_upload)
    app.router.add_delete(upload, uploads.cancel_upload)
    blob = f"{_NAME}/blobs/{{digest}}"
    app.router.add_get(blob, blobs.get_blob)
    app.router.add_delete(blob, blobs.delete_blob)
    manifest = f"{_NAME}/manifests/{{reference}}"
    app.router.add_get(manifest, manifests.get_manifest)
    app.router.add_put(manifest, manifests.put_manifest)
    app.router.add_delete(manifest, manifests.delete_manifest)


@web.middleware
async def registry_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure under /v2/ in the OCI error shape; never a traceback."""
    if not request.path.startswith("/v2"):
        return await handler(request)
    try:
        response = await handler(request)
    except RegistryError as error:
        response = render_error(error)
    except web.HTTPNotFound:
        response = render(404, "UNSUPPORTED", f"no endpoint at {request.path}")
    except web.HTTPMethodNotAllowed as error:
        response = render(405, "UNSUPPORTED", f"{request.method} is not supported at {request.path}")
        response.headers["Allow"] = ", ".join(sorted(error.allowed_methods))
    except web.HTTPException as error:
        response = render(error.status, "UNSUPPORTED", error.reason)
    except ConnectionError:
        raise  # the client went away: nobody to answer
    except Exception:
        request_id = request.get("request_id", "-")
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request_id)
        response = render(500, "UNKNOWN", f"internal error; request id {request_id}")
    response.headers[API_VERSION[0]] = API_VERSION[1]
    return response
