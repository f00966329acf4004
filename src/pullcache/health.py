"""Health checks for load balancers and orchestrators, unauthenticated and quiet in the access log.

    GET /healthz   the process is alive and its event loop turns: 200, no I/O
    GET /readyz    it can serve: every readiness check passes within CHECK_SECONDS (the database answers and its
                   schema is the newest, the blob store takes a write); 503 with each failed check's reason otherwise

Checks run concurrently on every /readyz; a load balancer asks every few seconds, and each check is one small
read or write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

HEALTH_PATHS: Final = frozenset({"/healthz", "/readyz"})
CHECK_SECONDS: Final = 5.0

ReadinessCheck = Callable[[], Awaitable[None]]  # raises, its message the reason, when not ready
READINESS: Final = web.AppKey("readiness", dict[str, ReadinessCheck])


def add_health_routes(app: web.Application) -> None:
    """/healthz and /readyz on `app`; /readyz runs the checks `app[READINESS]` names once the app has started
    (set where the resources they check are made), and none before."""
    app.router.add_get("/healthz", _alive)
    app.router.add_get("/readyz", _ready)


async def _alive(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _ready(request: web.Request) -> web.Response:
    checks = request.app.get(READINESS)
    if checks is None:
        return web.json_response({"status": "not ready", "checks": {"startup": "starting"}}, status=503)
    outcomes = await asyncio.gather(*(_outcome(check) for check in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    ready = all(outcome == "ok" for outcome in outcomes)
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": results}, status=200 if ready else 503
    )


async def _outcome(check: ReadinessCheck) -> str:
    """ "ok", or why not."""
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await check()
    except TimeoutError:
        return f"no answer within {CHECK_SECONDS:g} s"
    except Exception as error:  # a check's failure is its reason, whatever its kind
        return str(error) or type(error).__name__
    return "ok"
