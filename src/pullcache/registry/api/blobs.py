"""Blob HEAD, GET (with Range, served by sendfile, also while the pull-through cache fetches it) and DELETE."""

from __future__ import annotations

from aiohttp import web

from pullcache.core.mediatypes import OCTET_STREAM
from pullcache.registry.api.access import requester
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.api.ranges import Unsatisfiable, parse_range
from pullcache.registry.api.sendfile import GrowingSendfileResponse, SendfileResponse
from pullcache.registry.ports import GrowingBlob, LocalBlob

# Content under a digest never changes.
IMMUTABLE = "max-age=31536000, immutable"


async def get_blob(request: web.Request) -> web.StreamResponse:
    digest, blob = await registry(request).get_blob(
        scope(request), repository(request), request.match_info["digest"], requester(request)
    )
    etag = f'"{digest}"'
    headers = {"Docker-Content-Digest": str(digest), "ETag": etag, "Accept-Ranges": "bytes"}
    if etag in request.headers.get("If-None-Match", ""):
        _let_go(blob)
        return web.Response(status=304, headers=headers)
    try:
        byte_range = parse_range(request.headers.get("Range"), blob.size)
    except Unsatisfiable:
        _let_go(blob)
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{blob.size}"})
    start, length, status = (0, blob.size, 200) if byte_range is None else (byte_range.start, byte_range.length, 206)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{blob.size}"
    headers["Cache-Control"] = IMMUTABLE
    response: web.StreamResponse
    if isinstance(blob, LocalBlob):
        response = SendfileResponse(blob.path, start, length, status=status)
    else:
        response = GrowingSendfileResponse(blob, start, length, status=status)
    response.headers.update(headers)
    response.content_type = OCTET_STREAM
    return response


def _let_go(blob: LocalBlob | GrowingBlob) -> None:
    """A blob being filled holds a file open until its response is sent; one not sent lets go of it here."""
    if not isinstance(blob, LocalBlob):
        blob.close()


async def delete_blob(request: web.Request) -> web.Response:
    await registry(request).delete_blob(scope(request), repository(request), request.match_info["digest"])
    return web.Response(status=202)
