"""Running the server: migrations once, then one worker process, or N sharing the port with SO_REUSEPORT.

Shutdown is graceful: on SIGTERM or SIGINT a worker stops accepting connections and gives in-flight requests
`shutdown_timeout` seconds to finish. An upload cut short keeps the bytes it had staged, so the client can
ask where it stands and resume.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import sys
from multiprocessing.process import BaseProcess

from aiohttp import web

from pullcache.app import build_app
from pullcache.config import Settings
from pullcache.logs import ACCESS_LOGGER, JsonAccessLogger, configure_logging
from pullcache.metadata.engine import create_engine, migrate

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_migrate(settings))
    if settings.workers == 1:
        run_worker(settings)
    else:
        _supervise(settings)


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def run_worker(settings: Settings) -> None:
    configure_logging(settings.log_level)
    asyncio.run(_run_worker(settings))


async def _run_worker(settings: Settings) -> None:
    runner = web.AppRunner(
        build_app(settings),
        access_log_class=JsonAccessLogger,
        access_log=logging.getLogger(ACCESS_LOGGER),
    )
    await runner.setup()
    site = web.TCPSite(
        runner,
        settings.host,
        settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        backlog=1024,
        reuse_port=settings.workers > 1,
    )
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info(
        "listening",
        extra={"fields": {"host": settings.host, "port": settings.port, "data_dir": str(settings.data_dir)}},
    )
    await stop.wait()
    log.info("shutting down: finishing in-flight requests")
    await runner.cleanup()
    log.info("stopped")


def _supervise(settings: Settings) -> None:
    """Start the workers, pass SIGTERM/SIGINT on to them, and restart one that dies on its own."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=run_worker, args=(settings,), daemon=False)
        process.start()
        return process

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.is_alive() and process.pid is not None:
                process.terminate()

    workers = [start() for _ in range(settings.workers)]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while workers:
        for index, process in enumerate(list(workers)):
            process.join(timeout=0.5)
            if process.exitcode is None:
                continue
            if stopping:
                workers.remove(process)
            else:
                log.error("worker %s exited with %s; restarting it", process.pid, process.exitcode)
                workers[index] = start()
    sys.exit(0)
