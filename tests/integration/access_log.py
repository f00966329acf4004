"""What a server's access log says of the requests answered so far, once it has caught up with them.

A server writes a request's access line after answering it, so a client (a runtime that exits once answered) can
be done before its lines are. A request of the test's own, sent last, is logged after them: its line is waited for.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Final

from testkit.servers import PullcacheServer
from tests.integration.cached_images import get

ACCESS_LOGGER: Final = "pullcache.access"
SETTLED: Final = "settled"  # the query parameter of the request that tells the log has caught up
LOG_WAIT: Final = 10.0  # seconds


def log_mark(server: PullcacheServer) -> int:
    """Where the log ends now: what log_lines reads after."""
    return len(server.log())


def log_lines(server: PullcacheServer, since: int) -> list[dict[str, Any]]:
    """The log's lines written after `since` (a log_mark), those of every request answered before the call among
    them (the server logs at info)."""
    marker = f"{SETTLED}={uuid.uuid4().hex}"
    get(f"{server.url}/v2/?{marker}")  # refused or not, it is logged
    deadline = time.monotonic() + LOG_WAIT
    while True:
        lines = [json.loads(line) for line in server.log()[since:].splitlines() if line.startswith("{")]
        if any(line.get("query") == marker for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def access_lines(server: PullcacheServer, since: int, agent: str) -> list[dict[str, Any]]:
    """The access lines after `since` of the requests whose User-Agent starts with `agent`."""
    return [
        line
        for line in log_lines(server, since)
        if line.get("logger") == ACCESS_LOGGER and str(line.get("user_agent")).startswith(agent)
    ]
