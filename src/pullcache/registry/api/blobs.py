"""Blob HEAD, GET (with Range, served by sendfile) and DELETE."""

from __future__ import annotations

from aiohttp import web

from pullcache.core.mediatypes import OCTET_STREAM
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.api.ranges import Unsatisfiable, parse_range
from pullcache.registry.api.sendfile import SendfileResponse

# Content under a digest never changes.
IMMUTABLE = "max-age=31536000, immutable"


async def get_blob(request: web.Request) -> web.StreamResponse:
    digest, blob = await registry(request).get_blob(scope(request), repository(request), request.match_info["digest"])
    etag = f'"{digest}"'
    headers = {"Docker-Content-Digest": str(digest), "ETag": etag, "Accept-Ranges": "bytes"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    try:
        byte_range = parse_range(request.headers.get("Range"), blob.size)
    except Unsatisfiable:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{blob.size}"})
    if byte_range is None:
        response = SendfileResponse(blob.path, 0, blob.size)
    else:
        response = SendfileResponse(blob.path, byte_range.start, byte_range.length, status=206)
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{blob.size}"
    response.headers.update(headers)
    response.headers["Cache-Control"] = IMMUTABLE
    response.content_type = OCTET_STREAM
    return response


async def delete_blob(request: web.Request) -> web.Response:
    await registry(request).delete_blob(scope(request), repository(request), request.match_info["digest"])
    return web.Response(status=202)
