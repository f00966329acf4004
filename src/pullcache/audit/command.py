"""`pullcache audit`: the audit trail of a data dir, one JSON event a line, oldest first.

    pullcache audit --data-dir D [--since 1h|2026-01-02T03:04:05Z] [--principal ARN|KEY] [--event-name NAME]

Exit 0 when it read (no events is not an error), 1 when the data dir does not exist, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pullcache.audit.reader import EventFilter, read_events

_RELATIVE = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def add_audit_command(commands: argparse._SubParsersAction[Any], default_data_dir: str) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(
        "audit",
        help="print the audit trail: every call that changed something, one JSON event a line",
        description="Print the events of <data-dir>/audit (the rotated files, then the current one), oldest "
        "first, one CloudTrail-shaped JSON event a line. Safe while the server runs.",
    )
    command.set_defaults(command_parser=command)
    command.add_argument(
        "--data-dir",
        default=os.environ.get("PULLCACHE_DATA_DIR", default_data_dir),
        help="the server's data directory (env PULLCACHE_DATA_DIR; default %(default)s)",
    )
    command.add_argument(
        "--since", metavar="TIME", help="events at or after TIME: ISO-8601 (2026-01-02T03:04:05Z) or 30m, 1h, 2d ago"
    )
    command.add_argument(
        "--principal", metavar="ARN|KEY", help="events of this caller: its ARN, its role's ARN or an access key id"
    )
    command.add_argument("--event-name", metavar="NAME", help="events of this call (CreateRepository, PutImage, ...)")
    return command


def run(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    since = None
    if arguments.since is not None:
        since = parse_since(arguments.since, datetime.now(UTC))
        if since is None:
            parser.error(f"--since takes an ISO-8601 time or an age like 30m, 1h, 2d, not {arguments.since!r}")
    data_dir = Path(arguments.data_dir)
    if not data_dir.is_dir():
        sys.exit(f"{parser.prog}: no data dir at {data_dir}")
    selection = EventFilter(since, arguments.principal, arguments.event_name)
    try:
        for event in read_events(data_dir, selection):
            print(json.dumps(event, separators=(",", ":")))
    except BrokenPipeError:  # `| head`: the reader left
        sys.stderr.close()
    except OSError as error:
        sys.exit(f"{parser.prog}: cannot read the audit trail: {error.strerror or error}")


def parse_since(text: str, now: datetime) -> datetime | None:
    """The time `text` names, in UTC: an age (`90s`, `30m`, `1h`, `2d`) before `now`, or an ISO-8601 time (without
    an offset: UTC). None when it is neither."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
