"""Running the server: migrations once, then one worker process, or N sharing the port with SO_REUSEPORT.

One server per data dir; workers die with their master (server_lock.py).

Shutdown is graceful: on SIGTERM or SIGINT a worker stops accepting connections and gives in-flight requests
`shutdown_timeout` seconds to finish, request bodies still arriving included; requests still running then
are cancelled (aiohttp's own shutdown may take as long again). An upload cut short keeps the bytes it had
staged, so the client can ask where it stands and resume.

Connections: a worker serves at most `max_connections` at once (by default what its open-file limit leaves room for)
and closes those that are slow to send a request's headers or idle too long (http_server.py, connection_budget.py);
the event loop's own errors are logged through logs.py, repeats held back.

TLS (server_tls.py, tls/): with a certificate and key given or `--tls self-signed`, every worker serves HTTPS on
the port; SIGHUP makes each reload the files (the master passes it on to its workers), and connections already
open keep theirs.

Metrics: the workers' values meet in `<data-dir>/metrics`, emptied here before any worker starts
(observability/process_files.py); with a metrics port, every worker serves /metrics there too (SO_REUSEPORT), and
any one's answer is the whole server's.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import socket
import sys

from aiohttp import web
from alembic.util.exc import CommandError
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from pullcache import server_tls
from pullcache.app import build_app
from pullcache.auth.bootstrap import ensure_root_key, write_client_files
from pullcache.auth.ports import RootKey
from pullcache.config import Settings
from pullcache.connection_budget import max_connections_for, open_file_limit
from pullcache.http_server import BoundedAppRunner
from pullcache.logs import ACCESS_LOGGER, JsonAccessLogger, RepeatedLines, configure_logging, log_loop_error
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.observability.exposition import EXPOSITION, metrics_app
from pullcache.observability.process_files import forget_process, share_values
from pullcache.registry.api.routes import Handler
from pullcache.server_lock import claim_data_dir, die_with_parent, join_data_dir
from pullcache.supervisor import Supervisor, WorkersCannotStart
from pullcache.tls import ServerCertificates, TlsSetupError
from pullcache.tls.relay import TLS_RELAY_FILES

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024  # connections the kernel queues for accept()


class CannotStart(Exception):
    """What keeps the server from starting, in one line for its operator."""


def serve(settings: Settings) -> None:
    """Raises CannotStart (DataDirInUse: another server runs on the data dir) before anything is written: the data
    dir, the port and the database are checked first (given TLS files before the data dir)."""
    configure_logging(settings.log_level)
    if settings.tls_enabled:
        # SIGHUP reloads the certificates once a worker listens; before that it must not end the server (workers
        # inherit the ignoring, until their own handler replaces it).
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        server_tls.check_given_files(settings)
    except TlsSetupError as error:
        raise CannotStart(str(error)) from None
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        claim_data_dir(settings.data_dir)  # held until this process ends
        share_values(settings.data_dir)  # before the workers start: they find it in their environment
    except OSError as error:
        raise CannotStart(f"cannot use the data dir {settings.data_dir}: {error.strerror or error}") from None
    raise_open_file_limit()
    for port in (settings.port, settings.metrics_port, settings.docker_hub_mirror_port):
        if port is not None:
            check_port_free(settings.host, port)
    try:
        server_tls.prepare(settings)
    except TlsSetupError as error:
        raise CannotStart(str(error)) from None
    try:
        asyncio.run(_prepare(settings))
    except (SQLAlchemyError, CommandError, ImportError, OSError) as error:
        database = _shown(settings.resolved_database_url)
        raise CannotStart(f"cannot open the database {database}: {_first_line(error)}") from None
    if settings.workers == 1:
        run_worker(settings)
    else:
        _supervise(settings)


def check_port_free(host: str, port: int) -> None:
    """Raises CannotStart when `host:port` cannot be listened on (in use, or not an address of this machine).

    A program may still take the port before the workers listen; they then fail to start, and the master gives up
    on them (supervisor.py)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CannotStart(f"cannot listen on {host}:{port}: {error.strerror}") from None
    family, kind, protocol, _name, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket: TIME_WAIT is fine
        try:
            probe.bind(address)
        except OSError as error:
            raise CannotStart(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def _shown(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable URL)"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def raise_open_file_limit() -> None:
    """Raise this process's soft limit of open files to the hard one (its workers inherit it): every client
    connection is a file, and the soft limit is often 1,024 where the hard one is far higher."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft >= hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as error:
        log.warning("cannot raise the open file limit from %s to %s: %s", soft, hard, error)


async def _prepare(settings: Settings) -> None:
    """Migrate the schema and, on first start, create the account and its root key."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await migrate(engine)
        given = None
        if settings.root_access_key_id is not None and settings.root_secret_access_key is not None:
            given = RootKey(settings.root_access_key_id, settings.root_secret_access_key)
        key, created = await ensure_root_key(SqlAccountStore(engine), settings.account_id, given)
    finally:
        await engine.dispose()
    try:
        credentials = write_client_files(
            settings.data_dir, key, settings.region, settings.endpoint_url, server_tls.client_ca_bundle(settings)
        )
    except OSError as error:
        raise CannotStart(f"cannot write the AWS tools' files in {settings.data_dir}: {error.strerror}") from None
    log.info(
        "root credentials created" if created else "root credentials",
        extra={
            "fields": {
                "account_id": settings.account_id,
                "access_key_id": key.access_key_id,
                "credentials_file": str(credentials),
                "config_file": str(credentials.with_name("config")),
            }
        },
    )


def run_worker(settings: Settings, master_pid: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT; `master_pid`: the process supervising this worker, which it dies with."""
    repeats = configure_logging(settings.log_level)
    if master_pid is None:
        asyncio.run(_run_worker(settings, repeats))
        return
    die_with_parent(master_pid)
    join_data_dir(settings.data_dir)  # held until this process ends
    # Started with SIGHUP blocked (supervisor.py): ignored until the certificates' reload handles it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN if settings.tls_enabled else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    try:
        asyncio.run(_run_worker(settings, repeats))
    except CannotStart as error:
        log.error("worker cannot start: %s", error)  # the master gives up after a few of these (supervisor.py)
        sys.exit(1)


async def _run_worker(settings: Settings, repeats: RepeatedLines) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(log_loop_error)
    reporting = asyncio.create_task(_report_repeats(repeats))
    app = build_app(settings)
    in_flight = InFlightRequests()
    app.middlewares.insert(0, in_flight.track)
    file_limit = open_file_limit()
    try:
        certificates = server_tls.load_certificates(settings)
    except TlsSetupError as error:  # the files changed since the master checked them
        raise CannotStart(str(error)) from None
    files_per_connection = 1 if certificates is None else TLS_RELAY_FILES
    max_connections = max_connections_for(settings.max_connections, file_limit, files_per_connection)
    runner = BoundedAppRunner(
        app,
        header_timeout=settings.header_timeout,
        idle_timeout=settings.idle_timeout,
        body_timeout=settings.body_timeout,
        max_connections=max_connections,
        access_log_class=JsonAccessLogger,
        access_log=logging.getLogger(ACCESS_LOGGER),
        shutdown_timeout=settings.shutdown_timeout,
        tls=None if certificates is None else certificates.current,
    )
    await runner.setup()
    try:
        sites: list[web.SockSite] = []
        listening = settings.port
        # The API's port, and the Docker Hub mirror's when there is one (registry/api/mirror.py): one application.
        for port in (settings.port, settings.docker_hub_mirror_port):
            if port is None:
                continue
            listening = port
            for sock in runner.listening_sockets(settings.host, port, reuse_port=settings.workers > 1):
                sites.append(web.SockSite(runner, sock, backlog=LISTEN_BACKLOG))
                await sites[-1].start()
    except OSError as error:
        await runner.cleanup()
        raise CannotStart(f"cannot listen on {settings.host}:{listening}: {error.strerror or error}") from None
    metrics_runner = await _serve_metrics(app, settings) if settings.metrics_port is not None else None
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if certificates is not None:
        loop.add_signal_handler(signal.SIGHUP, _reload_certificates, certificates)
    log.info(
        "listening",
        extra={
            "fields": {
                "host": settings.host,
                "port": settings.port,
                "docker_hub_mirror_port": settings.docker_hub_mirror_port,
                "scheme": settings.scheme,
                "data_dir": str(settings.data_dir),
                "max_connections": max_connections,
                "open_file_limit": file_limit,
            }
        },
    )
    await stop.wait()
    log.info("shutting down: finishing in-flight requests")
    for site in sites:
        await site.stop()
    try:
        async with asyncio.timeout(settings.shutdown_timeout):
            await in_flight.wait_idle()
    except TimeoutError:
        log.warning("in-flight requests outlasted the shutdown timeout: cancelling them")
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    await runner.cleanup()
    reporting.cancel()
    repeats.flush(everything=True)
    log.info("stopped")


def _reload_certificates(certificates: ServerCertificates) -> None:
    log.info(
        "SIGHUP: reloading the TLS certificate", extra={"fields": {"certificate": str(certificates.files.certificate)}}
    )
    certificates.reload()


async def _serve_metrics(app: web.Application, settings: Settings) -> web.AppRunner:
    """/metrics alone on the metrics port, answered from `app`'s metrics, without an access log."""
    assert settings.metrics_port is not None
    runner = web.AppRunner(metrics_app(app[EXPOSITION]), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(
        runner, settings.host, settings.metrics_port, backlog=LISTEN_BACKLOG, reuse_port=settings.workers > 1
    )
    await site.start()
    return runner


async def _report_repeats(repeats: RepeatedLines) -> None:
    """Write the counts of repeated log lines held back, once an interval."""
    while True:
        await asyncio.sleep(repeats.interval)
        repeats.flush()


class InFlightRequests:
    """Counts the requests whose handlers are running, so that shutdown can wait for them.

    aiohttp's own shutdown ignores whatever arrives on a connection once it has begun, so a request whose body
    is still arriving (an upload chunk) could never finish; waiting here first, with the listening socket
    already closed, lets it.
    """

    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._running += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no handler runs."""
        await self._idle.wait()


def _supervise(settings: Settings) -> None:
    """Run the workers (supervisor.py) until a stop signal; CannotStart when they die as they start."""
    supervisor = Supervisor(
        settings.workers, run_worker, (settings,), pass_hangup=settings.tls_enabled, forget=forget_process
    )
    try:
        supervisor.run()
    except WorkersCannotStart as error:
        raise CannotStart(str(error)) from None
