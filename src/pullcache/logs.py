"""Structured logs: one JSON object a line, for the server's own events and for every request.

Floods stay bounded: a warning or error that repeats (asyncio's accept() at the open-file limit, a request the HTTP
parser rejects, a connection refused at the connection cap) is written at most once per REPEAT_INTERVAL, with the
count of the repeats held back (RepeatedLines). asyncio's own errors go through the same path (log_loop_error, the
event loop's exception handler), those of the operating system running out of a resource without a traceback.
"""

from __future__ import annotations

import asyncio
import copy
import errno
import json
import logging
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from pullcache.health import HEALTH_PATHS
from pullcache.observability import METRICS_PATH

ACCESS_LOGGER = "pullcache.access"
# Asked every few seconds by load balancers and scrapers: written at debug, not in every info-level access log.
QUIET_PATHS = HEALTH_PATHS | {METRICS_PATH}
REPEAT_INTERVAL = 60.0  # seconds: the same warning or error is written at most once in this long
MAX_TRACKED_LINES = 512  # distinct repeated lines remembered; the least recent is forgotten past it
# What accept() (or any other call) answers when the process or the system runs out of files, buffers or memory.
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Query parameters that are credentials or secrets: never written to the access log. Presigned URLs' signatures and
# session tokens, download URLs' grants, and the secrets an AWS Query call may carry in a GET's query string.
CREDENTIAL_PARAMETERS = frozenset(
    {
        "x-amz-signature",
        "x-amz-security-token",
        "grant",
        "password",
        "oldpassword",
        "newpassword",
        "webidentitytoken",
        "samlassertion",
        "privatekey",
        "addprivatekey",
        "secretstring",
        "secretbinary",
        "rotationtoken",
    }
)
_CREDENTIAL_PARAMETER = re.compile(r"(?:^|&)(?:" + "|".join(sorted(CREDENTIAL_PARAMETERS)) + r")=", re.IGNORECASE)
# The path of the AWS APIs: its query string is an AWS Query call (any member of any operation, secrets included),
# so only the call's name and version are logged.
AWS_API_PATH = "/"
AWS_API_LOGGED_PARAMETERS = frozenset({"action", "version"})
HIDDEN = "HIDDEN"

_asyncio_log = logging.getLogger("asyncio")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str) -> RepeatedLines:
    """JSON lines on stderr at `level`, repeats held back; the filter returned reports them (its flush())."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    repeats = RepeatedLines()
    handler.addFilter(repeats)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return repeats


@dataclass(slots=True)
class _Line:
    since: float  # when the line was last written
    held: int = 0  # repeats held back since
    last: logging.LogRecord | None = None  # the last of them


class RepeatedLines(logging.Filter):
    """Lets each warning or error through at most once per `interval` seconds and counts the repeats it holds back.

    Two lines are the same when the same logger writes them at the same level from the same format string (their
    arguments may differ) with the same exception raised at the same place, and the same `repeat_key` if the caller
    gives one in `extra` (a cause, say, to count causes apart). The first line after repeats carries
    `"suppressed": n`, the number held back since the previous one; flush() writes the last repeat of an interval that
    ended quietly the same way, so no count is lost when a flood stops. Info and debug lines (the access log: one a
    request, by design) always pass. At most MAX_TRACKED_LINES distinct lines are remembered.
    """

    def __init__(self, interval: float = REPEAT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lines: dict[Hashable, _Line] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, "repeat_report", False):
            return True
        key = _identity(record)
        now = self._clock()
        line = self._lines.get(key)
        if line is not None and now < line.since + self.interval:
            line.held += 1
            line.last = record
            return False
        self._lines.pop(key, None)  # re-inserted last: the dict's order is the order of recent use
        self._lines[key] = _Line(since=now)
        if line is not None and line.held:
            _add_fields(record, suppressed=line.held)
        while len(self._lines) > MAX_TRACKED_LINES:
            del self._lines[next(iter(self._lines))]
        return True

    def flush(self, *, everything: bool = False) -> None:
        """Write the held-back repeats of every line whose interval has ended (of every line: `everything`, as the
        process stops): its last repeat, with the count of the others. Lines quiet for an interval are forgotten."""
        now = self._clock()
        for key, line in list(self._lines.items()):
            if now < line.since + self.interval and not (everything and line.held):
                continue
            if not line.held or line.last is None:
                del self._lines[key]
                continue
            report = copy.copy(line.last)
            report.exc_info = report.exc_text = report.stack_info = None  # the first line showed the traceback
            setattr(report, "repeat_report", True)  # noqa: B010 (an attribute logging does not declare)
            _add_fields(report, suppressed=line.held - 1)
            self._lines[key] = _Line(since=now)
            logging.getLogger(report.name).handle(report)


def _identity(record: logging.LogRecord) -> Hashable:
    where: tuple[str, int] | None = None
    if record.exc_info and record.exc_info[2] is not None:
        traceback = record.exc_info[2]
        while traceback.tb_next is not None:
            traceback = traceback.tb_next
        where = (traceback.tb_frame.f_code.co_filename, traceback.tb_lineno)
    kind = record.exc_info[0] if record.exc_info else None
    return (record.name, record.levelno, str(record.msg), getattr(record, "repeat_key", None), kind, where)


def _add_fields(record: logging.LogRecord, **fields: object) -> None:
    """Add to the record's fields without touching the dict the caller passed (it may be shared)."""
    setattr(record, "fields", {**getattr(record, "fields", {}), **fields})  # noqa: B010


def log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's exception handler (loop.set_exception_handler): asyncio's own errors as JSON lines,
    repeats held back. The operating system running out of a resource (accept() at the open-file limit) is a
    warning without a traceback: the traceback says nothing the error number does not."""
    message = str(context.get("message") or "unhandled error in the event loop")
    error = context.get("exception")
    if isinstance(error, OSError) and error.errno in RESOURCE_ERRNOS:
        _asyncio_log.warning(
            "%s: %s",
            message,
            os.strerror(error.errno),
            extra={"repeat_key": (message, error.errno), "fields": {"errno": errno.errorcode[error.errno]}},
        )
        return
    exc_info = (type(error), error, error.__traceback__) if isinstance(error, BaseException) else None
    _asyncio_log.error("%s", message, exc_info=exc_info, extra={"repeat_key": message})


def loggable_query(query: str, path: str = "") -> str:
    """A query string as the access log writes it. On the AWS APIs' path, the call's Action and Version alone;
    elsewhere the values of parameters that are credentials (a presigned URL's signature and session token, a
    download URL's grant, a password) replaced with HIDDEN."""
    if path == AWS_API_PATH and query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        return urllib.parse.urlencode([(n, v) for n, v in pairs if n.lower() in AWS_API_LOGGED_PARAMETERS])
    if not _CREDENTIAL_PARAMETER.search(query):
        return query
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return urllib.parse.urlencode(
        [(name, HIDDEN if name.lower() in CREDENTIAL_PARAMETERS else value) for name, value in pairs], safe="/:*"
    )


class JsonAccessLogger(AbstractAccessLogger):
    """One line a request: who asked what, the answer, its size and how long it took. Health checks and metrics
    scrapes (QUIET_PATHS), asked every few seconds, are logged at debug."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.log(
            logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
            "%s %s %s",
            request.method,
            request.path,
            response.status,
            extra={
                "fields": {
                    "remote": request.remote,
                    "method": request.method,
                    "path": request.path,
                    "query": loggable_query(request.query_string, request.path),
                    "status": response.status,
                    "bytes": response.body_length,
                    "duration_ms": round(time * 1000, 3),
                    "user_agent": request.headers.get("User-Agent"),
                    "request_id": request.get("request_id"),
                }
            },
        )
