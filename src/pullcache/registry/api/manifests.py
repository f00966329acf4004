"""Manifest HEAD, GET, PUT and DELETE by tag or digest."""

from __future__ import annotations

from aiohttp import web

from pullcache.registry.api.access import principal_arn, requester
from pullcache.registry.api.cache_status import CACHE_STATUS, manifest_cache_status
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.errors import ManifestTooLarge


async def get_manifest(request: web.Request) -> web.Response:
    # A GET is a pull (ECR's lastRecordedPullTime); a HEAD only asks whether the manifest is there.
    served = await registry(request).serve_manifest(
        scope(request),
        repository(request),
        request.match_info["reference"],
        pull=request.method == "GET",
        requester=requester(request),
        principal_arn=principal_arn(request),
    )
    manifest = served.record
    etag = f'"{manifest.digest}"'
    headers = {
        "Docker-Content-Digest": str(manifest.digest),
        "ETag": etag,
        CACHE_STATUS: manifest_cache_status(served.fetched),
    }
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=manifest.content, headers={**headers, "Content-Type": manifest.media_type})


async def put_manifest(request: web.Request) -> web.Response:
    service = registry(request)
    name, reference = repository(request), request.match_info["reference"]
    content = await _read_limited(request, service.max_manifest_bytes)
    stored = await service.put_manifest(
        scope(request), name, reference, content, request.headers.get("Content-Type"), requester(request)
    )
    headers = {
        "Location": f"/v2/{name}/manifests/{stored.digest}",
        "Docker-Content-Digest": str(stored.digest),
    }
    if stored.subject is not None:
        headers["OCI-Subject"] = str(stored.subject)
    return web.Response(status=201, headers=headers)


async def delete_manifest(request: web.Request) -> web.Response:
    await registry(request).delete_manifest(scope(request), repository(request), request.match_info["reference"])
    return web.Response(status=202)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to exceed `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise ManifestTooLarge(limit)
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise ManifestTooLarge(limit)
    return bytes(body)
