"""The audit trail read back: the rotated files oldest first, then the current one, each event filtered. The files
are opened under the writers' lock (shared), so a rotation while the trail is read neither repeats nor skips a file.

A line that does not parse (a file cut short by a crash mid-write) is skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pullcache.audit.writer import AUDIT_FILE, LOCK_FILE, audit_dir

_ROTATED = re.compile(re.escape(AUDIT_FILE) + r"\.(\d+)")
_EVENT_TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Events at or after `since`, of a caller (`principal`: an ARN, a role's ARN for its sessions, or an access
    key id) and of one `event_name`; None: any."""

    since: datetime | None = None
    principal: str | None = None
    event_name: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        if self.event_name is not None and event.get("eventName") != self.event_name:
            return False
        if self.principal is not None and self.principal not in _caller_names(event):
            return False
        if self.since is not None:
            moment = _event_time(event)
            if moment is None or moment < self.since:
                return False
        return True


def audit_files(data_dir: Path) -> list[Path]:
    """The audit files in time order: the highest-numbered (oldest) rotated file first, audit.log last."""
    directory = audit_dir(data_dir)
    if not directory.is_dir():
        return []
    rotated = []
    for path in directory.iterdir():
        match = _ROTATED.fullmatch(path.name)
        if match is not None:
            rotated.append((int(match.group(1)), path))
    files = [path for _, path in sorted(rotated, reverse=True)]
    current = directory / AUDIT_FILE
    if current.exists():
        files.append(current)
    return files


def read_events(data_dir: Path, selection: EventFilter) -> Iterator[dict[str, Any]]:
    for lines in _opened_files(data_dir):
        with lines:
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and selection.matches(event):
                    yield event


def _opened_files(data_dir: Path) -> list[BinaryIO]:
    """Every audit file, opened in time order while holding the writers' lock shared: no writer rotates between
    the listing and the opening, so no file is read twice or missed under a name that moved on. Read afterwards
    from the open files, the lock given back: a writer only appends to the newest of them meanwhile."""
    with _shared_lock(audit_dir(data_dir) / LOCK_FILE):
        opened: list[BinaryIO] = []
        try:
            for path in audit_files(data_dir):
                try:
                    opened.append(path.open("rb"))
                except FileNotFoundError:  # no writer holds the lock: a file gone between listing and opening
                    continue
        except BaseException:
            for lines in opened:
                lines.close()
            raise
        return opened


@contextmanager
def _shared_lock(path: Path) -> Iterator[None]:
    """The audit dir's lock, shared (writers take it exclusive for each batch). Without a lock file no writer ever
    ran, and there is nothing to wait for; one this reader may not open is read without it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, PermissionError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _caller_names(event: dict[str, Any]) -> set[str]:
    identity = event.get("userIdentity")
    if not isinstance(identity, dict):
        return set()
    names = {identity.get("arn"), identity.get("accessKeyId"), identity.get("principalId")}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    names.add(issuer.get("arn"))
    return {name for name in names if isinstance(name, str) and name}


def _event_time(event: dict[str, Any]) -> datetime | None:
    text = event.get("eventTime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, _EVENT_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
