"""Blob HEAD, GET (with Range) and DELETE.

A GET sends the bytes the cheapest way the blob offers: with sendfile from a local file (also while the
pull-through cache fetches it), else by redirecting the client to where the store serves them, else streamed
through this process.
"""

from __future__ import annotations

from aiohttp import web

from pullcache.core.digests import Digest
from pullcache.core.mediatypes import OCTET_STREAM
from pullcache.registry.api.access import requester
from pullcache.registry.api.cache_status import CACHE_STATUS, blob_cache_status
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.api.ranges import Unsatisfiable, parse_range
from pullcache.registry.api.sendfile import GrowingSendfileResponse, SendfileResponse
from pullcache.registry.api.streamed import StreamedResponse
from pullcache.registry.ports import Blob, LocalFile

# Content under a digest never changes.
IMMUTABLE = "max-age=31536000, immutable"


async def get_blob(request: web.Request) -> web.StreamResponse:
    digest, blob = await registry(request).get_blob(
        scope(request), repository(request), request.match_info["digest"], requester(request)
    )
    etag = f'"{digest}"'
    headers = {
        "Docker-Content-Digest": str(digest),
        "ETag": etag,
        "Accept-Ranges": "bytes",
        CACHE_STATUS: blob_cache_status(blob),
    }
    if etag in request.headers.get("If-None-Match", ""):
        blob.close()
        return web.Response(status=304, headers=headers)
    try:
        byte_range = parse_range(request.headers.get("Range"), blob.size)
    except Unsatisfiable:
        blob.close()
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{blob.size}"})
    start, length, status = (0, blob.size, 200) if byte_range is None else (byte_range.start, byte_range.length, 206)
    if byte_range is not None:
        headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{blob.size}"
    response: web.StreamResponse
    file = blob.local_file()
    if isinstance(file, LocalFile):
        response = SendfileResponse(file.path, start, length, status=status)
    elif file is not None:
        response = GrowingSendfileResponse(blob, file, start, length, status=status)
    else:
        redirect = await _redirect(request, blob, digest)
        if redirect is not None:
            return redirect
        response = StreamedResponse(blob, start, length, status=status)
    headers["Cache-Control"] = IMMUTABLE
    response.headers.update(headers)
    response.content_type = OCTET_STREAM
    return response


async def _redirect(request: web.Request, blob: Blob, digest: Digest) -> web.Response | None:
    """A redirect to where the store serves the blob, if it offers one. Only a GET is sent away (a HEAD needs no
    bytes), and the answer carries no Cache-Control: such URLs expire."""
    if request.method != "GET":
        return None
    url = await blob.url()
    if url is None:
        return None
    blob.close()
    return web.Response(status=307, headers={"Docker-Content-Digest": str(digest), "Location": url.url})


async def delete_blob(request: web.Request) -> web.Response:
    await registry(request).delete_blob(scope(request), repository(request), request.match_info["digest"])
    return web.Response(status=202)
