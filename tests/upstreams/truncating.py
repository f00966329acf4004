"""TruncatingUpstream: a FaultyUpstream that can also serve blobs short under an honest Content-Length.

A body broken off mid-way (FaultyUpstream.drop_connection) tells the client something went wrong; a truncated
one does not: the answer says it is `keep_bytes` long and ends cleanly there, so only the digest can tell.
"""

from __future__ import annotations

import threading

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from tests.upstreams.faulty import FaultyUpstream
from tests.upstreams.proxy import FORWARDED_REQUEST_HEADERS, blob_digest_of

KEPT_HEADERS = ("Content-Type", "Docker-Content-Digest")


class TruncatingUpstream(FaultyUpstream):
    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self._truncation_lock = threading.Lock()
        self._keep_bytes: int | None = None

    def truncate_blobs(self, keep_bytes: int | None) -> None:
        """Serve only the first `keep_bytes` of every blob GET, as if that were all (None: serve them whole)."""
        with self._truncation_lock:
            self._keep_bytes = keep_bytes

    def application(self) -> web.Application:
        app = super().application()
        app.middlewares.append(self._truncate)
        return app

    @web.middleware
    async def _truncate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        with self._truncation_lock:
            keep = self._keep_bytes
        if keep is None or request.method != "GET" or blob_digest_of(request.path) is None:
            return await handler(request)
        headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.get(URL(f"{self.upstream_url}{request.path_qs}", encoded=True), headers=headers) as answer,
        ):
            body = await answer.read()  # the probes' blobs are small
            kept = {name: answer.headers[name] for name in KEPT_HEADERS if name in answer.headers}
            return web.Response(status=answer.status, body=body[:keep] if answer.status == 200 else body, headers=kept)
