"""Responses that send a blob in a local file with the kernel's sendfile: no bytes pass through Python.

A committed blob is sent in one call; a blob still arriving (a pull-through fill) stretch by stretch, as its
GrowingFile says bytes may go out. A connection whose client is not at the other end of its socket (a TLS relay's)
offers a FileRelay, which sends the file in sendfile's place.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from pullcache.registry.api.streamed import RangeResponse, cut_off, live_transport
from pullcache.registry.errors import BlobFillFailed
from pullcache.registry.ports import Blob, GrowingFile

CHUNK = 1 << 20


@runtime_checkable
class FileRelay(Protocol):
    """Sends `count` bytes of the file `fd` from `offset` to the client, after what `transport` was given before."""

    async def send_file(self, transport: asyncio.WriteTransport, fd: int, offset: int, count: int) -> None: ...


class SendfileResponse(RangeResponse):
    def __init__(self, path: Path, offset: int, count: int, *, status: int = 200) -> None:
        super().__init__(offset, count, status=status)
        self._path = path

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if not self._sends_a_body(request):
            return await super().prepare(request)
        with open(self._path, "rb") as file:  # noqa: ASYNC230 - opening is a metadata lookup, not I/O wait
            writer = await super().prepare(request)
            assert writer is not None
            transport = live_transport(request)
            await writer.drain()
            await _send(request, transport, writer, file, self._offset, self._count)
            await super().write_eof()
            return writer


class GrowingSendfileResponse(RangeResponse):
    """A blob still arriving into `file`, sent with sendfile as its bytes land: each stretch the file says may go
    out. The blob is closed once sent.

    A fill that fails once bytes are on the wire cuts the connection: the client must not take a partial or
    wrong body for the blob.
    """

    def __init__(self, blob: Blob, file: GrowingFile, offset: int, count: int, *, status: int = 200) -> None:
        super().__init__(offset, count, status=status)
        self._blob = blob
        self._file = file

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        try:
            writer = await super().prepare(request)
            if not self._sends_a_body(request):
                return writer
            assert writer is not None
            transport = live_transport(request)
            await writer.drain()
            position, end = self._offset, self._offset + self._count
            try:
                while position < end:
                    upto = await self._file.sendable(position, end)
                    with os.fdopen(self._file.fileno, "rb", closefd=False) as handle:
                        await _send(request, transport, writer, handle, position, upto - position)
                    position = upto
            except BlobFillFailed as failure:
                raise cut_off(transport, failure) from None
            await super().write_eof()
            return writer
        finally:
            self._blob.close()


async def _send(
    request: web.BaseRequest,
    transport: asyncio.Transport,
    writer: AbstractStreamWriter,
    file: BinaryIO,
    offset: int,
    count: int,
) -> None:
    relay = getattr(request.protocol, "file_relay", None)
    if isinstance(relay, FileRelay):
        await relay.send_file(transport, file.fileno(), offset, count)
        return
    try:
        await asyncio.get_running_loop().sendfile(transport, file, offset, count)
    except NotImplementedError:  # an event loop without native sendfile
        await _copy(writer, file, offset, count)


async def _copy(writer: AbstractStreamWriter, file: BinaryIO, offset: int, count: int) -> None:
    fd = file.fileno()
    while count > 0:
        data = await asyncio.to_thread(os.pread, fd, min(CHUNK, count), offset)
        if not data:
            raise ConnectionResetError("file shrank while being sent")
        await writer.write(data)
        offset += len(data)
        count -= len(data)
