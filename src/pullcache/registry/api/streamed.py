"""A blob sent through this process, chunk by chunk: for a blob that is not in a local file on this machine.

Once bytes are on the wire a failure cannot be answered with an error any more: the connection is cut, so the
client never takes a partial or wrong body for the blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from pullcache.registry.errors import BlobFillFailed
from pullcache.registry.ports import Blob

log = logging.getLogger(__name__)


class RangeResponse(web.StreamResponse):
    """`count` bytes of a blob from `offset` (the whole blob or a Range); each way of sending them subclasses it."""

    def __init__(self, offset: int, count: int, *, status: int = 200) -> None:
        super().__init__(status=status)
        self._offset = offset
        self._count = count
        self.content_length = count

    def _sends_a_body(self, request: web.BaseRequest) -> bool:
        return request.method != "HEAD" and self._count > 0


def live_transport(request: web.BaseRequest) -> asyncio.Transport:
    """The request's connection, to send a body on; raises ConnectionResetError when the client went away."""
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("client went away")
    return transport


class StreamedResponse(RangeResponse):
    """`count` bytes of `blob` from `offset`, as its chunks come; the blob is closed once sent."""

    def __init__(self, blob: Blob, offset: int, count: int, *, status: int = 200) -> None:
        super().__init__(offset, count, status=status)
        self._blob = blob

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        try:
            writer = await super().prepare(request)
            if not self._sends_a_body(request):
                return writer
            transport = live_transport(request)
            try:
                async with contextlib.aclosing(self._blob.chunks(self._offset, self._count)) as chunks:
                    async for chunk in chunks:
                        await self.write(chunk)
            except BlobFillFailed as failure:
                raise cut_off(transport, failure) from None
            await super().write_eof()
            return writer
        finally:
            self._blob.close()


def cut_off(transport: asyncio.Transport, failure: BlobFillFailed) -> ConnectionResetError:
    """Abort the connection of a blob response whose body cannot be finished; returns the error to raise."""
    log.warning("cutting off a blob response: %s", failure.message)
    transport.abort()
    return ConnectionResetError(failure.message)
