"""Structured logs: one JSON object a line, for the server's own events and for every request."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

ACCESS_LOGGER = "pullcache.access"


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


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class JsonAccessLogger(AbstractAccessLogger):
    """One line a request: who asked what, the answer, its size and how long it took."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status,
            extra={
                "fields": {
                    "remote": request.remote,
                    "method": request.method,
                    "path": request.path,
                    "query": request.query_string,
                    "status": response.status,
                    "bytes": response.body_length,
                    "duration_ms": round(time * 1000, 3),
                    "user_agent": request.headers.get("User-Agent"),
                    "request_id": request.get("request_id"),
                }
            },
        )
