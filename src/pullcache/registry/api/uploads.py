"""Blob uploads: monolithic POST, POST then PUT, chunked PATCH, status, cancel, and cross-repository mount."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from pullcache.core.digests import Digest
from pullcache.policy import PrincipalType
from pullcache.registry.api.access import ACCESS_CONTROL, condition_keys, now, principal, requester
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.api.ranges import parse_content_range
from pullcache.registry.errors import BlobUploadInvalid
from pullcache.registry.service import BlobMounted

PULL_LAYER = "ecr:GetDownloadUrlForLayer"


async def start_upload(request: web.Request) -> web.Response:
    name, registry_scope = repository(request), scope(request)
    service = registry(request)
    digest = request.query.get("digest")
    if digest is not None:
        stored = await service.upload_blob(registry_scope, name, digest, _body(request), requester(request))
        return _blob_created(name, stored)
    mount, source = request.query.get("mount"), request.query.get("from")
    caller = principal(request)
    # A mount reads the source repository: declined (an upload starts instead) unless the caller may pull it.
    control = request.app[ACCESS_CONTROL]
    if (
        mount is not None
        and source is not None
        and not await control.allows(caller, registry_scope, source, PULL_LAYER, condition_keys(request, now()))
    ):
        mount = source = None
    # Mounting from wherever the blob is would read repositories the caller names nowhere: only for the root user,
    # who may read them all.
    automatic = caller.type is PrincipalType.ACCOUNT and caller.account == registry_scope.account_id
    started = await service.start_upload(
        registry_scope, name, mount, source, automatic_mount=automatic, pusher=requester(request)
    )
    if isinstance(started, BlobMounted):
        return _blob_created(name, started.digest)
    return _upload_accepted(name, started.upload_id, 0, status=202)


async def upload_status(request: web.Request) -> web.Response:
    name, upload_id = repository(request), request.match_info["upload"]
    size = await registry(request).upload_size(scope(request), name, upload_id)
    return _upload_accepted(name, upload_id, size, status=204)


async def append_chunk(request: web.Request) -> web.Response:
    name, upload_id = repository(request), request.match_info["upload"]
    start = _chunk_start(request)
    size = await registry(request).append_chunk(scope(request), name, upload_id, start, _body(request))
    return _upload_accepted(name, upload_id, size, status=202)


async def complete_upload(request: web.Request) -> web.Response:
    name, upload_id = repository(request), request.match_info["upload"]
    chunks = _body(request) if request.body_exists else None
    start = _chunk_start(request) if chunks is not None else None
    digest = await registry(request).complete_upload(
        scope(request), name, upload_id, request.query.get("digest"), start, chunks
    )
    return _blob_created(name, digest)


async def cancel_upload(request: web.Request) -> web.Response:
    await registry(request).cancel_upload(scope(request), repository(request), request.match_info["upload"])
    return web.Response(status=204)


def _chunk_start(request: web.Request) -> int | None:
    """Where the chunk says it starts (`Content-Range: start-end`); None for a streamed chunk without one."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None
    chunk = parse_content_range(header)
    if chunk is None:
        raise BlobUploadInvalid(f"malformed Content-Range {header!r}")
    if request.content_length is not None and request.content_length != chunk.length:
        raise BlobUploadInvalid(
            f"Content-Range {header!r} covers {chunk.length} bytes but Content-Length is {request.content_length}"
        )
    return chunk.start


def _body(request: web.Request) -> AsyncIterator[bytes]:
    return request.content.iter_any()


def _blob_created(name: str, digest: Digest) -> web.Response:
    return web.Response(
        status=201,
        headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)},
    )


def _upload_accepted(name: str, upload_id: str, size: int, *, status: int) -> web.Response:
    return web.Response(
        status=status,
        headers={
            "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
            "Range": f"0-{max(size - 1, 0)}",
            "Docker-Upload-UUID": upload_id,
        },
    )
