"""The middleware that counts every request: by door, method and status, its latency, its bytes, those in flight.

The door is the API a request knocked at: `v2` (the OCI API), the AWS service its signature names (`ecr`, `iam`,
`sts`, `secretsmanager`; `aws` when the gateway could not tell), `health`, `metrics`, or `other` (a path nothing
serves). Paths are never labels: a repository name or a digest would make a series of each.

It is the outermost of the app's middlewares (server.py's shutdown tracking aside), so it sees the status the
error middlewares rendered. Per request: a clock read at each end and a few integers added (request_tally.py),
moved into the series once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from pullcache.aws.gateway import AWS_SERVICE
from pullcache.health import HEALTH_PATHS
from pullcache.observability import METRICS_PATH
from pullcache.observability.request_tally import FLUSH_SECONDS, RequestTally

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLIENT_CLOSED_REQUEST: Final = 499  # the status of a request whose client left while it was handled (nginx's)


def request_metrics(tally: RequestTally) -> Middleware:
    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        tally.in_flight += 1
        status = 500
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            tally.in_flight -= 1
            tally.finished(
                door_of(request),
                request.method if request.method in METHODS else "other",
                status,
                time.perf_counter() - started,
                getattr(request.content, "total_bytes", 0),
                0 if request.method == "HEAD" else _bytes_sent(response),
            )

    return observe


def flushing(tally: RequestTally) -> Callable[[web.Application], AsyncIterator[None]]:
    """The app's cleanup context that flushes `tally` every FLUSH_SECONDS, and once more as the app stops."""

    async def keep_flushed(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_flush_every(tally))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        tally.flush()

    return keep_flushed


async def _flush_every(tally: RequestTally) -> None:
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            tally.flush()
        except Exception:  # a failed flush loses one second's counts, not the loop
            log.exception("flushing the request metrics failed")


def door_of(request: web.Request) -> str:
    path = request.path
    if path.startswith("/v2"):
        return "v2"
    if path == "/":
        service: str = request.get(AWS_SERVICE, "aws")
        return service
    if path in HEALTH_PATHS:
        return "health"
    if path == METRICS_PATH:
        return "metrics"
    return "other"


def _bytes_sent(response: web.StreamResponse | None) -> int:
    """A streamed response's bytes so far (it was sent by its handler), or the body a plain one is about to send."""
    if response is None:
        return 0
    if response.prepared:
        return response.body_length
    return response.content_length or 0
