"""Blob HEAD, GET (with Range, served by sendfile, or streamed while the pull-through cache fetches it) and DELETE."""

from __future__ import annotations

import logging

from aiohttp import web

from pullcache.core.mediatypes import OCTET_STREAM
from pullcache.registry.api.access import requester
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.api.ranges import Unsatisfiable, parse_range
from pullcache.registry.api.sendfile import SendfileResponse
from pullcache.registry.errors import BlobFillFailed
from pullcache.registry.ports import GrowingBlob, LocalBlob

log = logging.getLogger(__name__)

# Content under a digest never changes.
IMMUTABLE = "max-age=31536000, immutable"


async def get_blob(request: web.Request) -> web.StreamResponse:
    digest, blob = await registry(request).get_blob(
        scope(request), repository(request), request.match_info["digest"], requester(request)
    )
    etag = f'"{digest}"'
    headers = {"Docker-Content-Digest": str(digest), "ETag": etag, "Accept-Ranges": "bytes"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    try:
        byte_range = parse_range(request.headers.get("Range"), blob.size)
    except Unsatisfiable:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{blob.size}"})
    start, length, status = (0, blob.size, 200) if byte_range is None else (byte_range.start, byte_range.length, 206)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{blob.size}"
    headers["Cache-Control"] = IMMUTABLE
    if isinstance(blob, LocalBlob):
        response = SendfileResponse(blob.path, start, length, status=status)
        response.headers.update(headers)
        response.content_type = OCTET_STREAM
        return response
    return await _stream_growing(request, blob, start, length, status, headers)


async def _stream_growing(
    request: web.Request, blob: GrowingBlob, start: int, length: int, status: int, headers: dict[str, str]
) -> web.StreamResponse:
    """Send a blob while it is being fetched; a fill that fails once bytes are out cuts the connection."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = OCTET_STREAM
    response.content_length = length
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    try:
        async for chunk in blob.chunks(start, length):
            await response.write(chunk)
    except BlobFillFailed as failure:
        log.warning("cutting off a blob response: %s", failure.message)
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError(failure.message) from None
    await response.write_eof()
    return response


async def delete_blob(request: web.Request) -> web.Response:
    await registry(request).delete_blob(scope(request), repository(request), request.match_info["digest"])
    return web.Response(status=202)
