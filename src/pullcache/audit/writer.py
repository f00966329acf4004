"""AuditWriter: events appended to <data-dir>/audit/audit.log, off the request path, by every worker at once.

Recording never fails or slows a request: `record` puts the event on a bounded queue and returns; a thread
drains it in batches. Each event is one JSON line written with one write() to a file opened O_APPEND, so lines
of several workers never interleave. When the file reaches `max_bytes` it is rotated: audit.log becomes
audit.log.1 (audit.log.1 becomes .2, ...; past `keep` the oldest goes). Each batch is written holding the
audit dir's lock (a flock every worker takes), so the size a worker reads stays true while it writes, a file is
rotated once however many workers see it full, and no line lands in a file being renamed; a worker whose file
another rotated opens the new one first. Batches keep the lock's cost to one flock per turn of the thread.

An event that cannot be kept (the queue full, the disk full, the file unwritable) is counted as dropped and
a warning logged (logs.py holds its repeats back); the request it records went on regardless. `close` writes
what is queued (a worker's shutdown).

Files are created 0600 in a directory 0700: events name callers, keys and resources.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Protocol

log = logging.getLogger(__name__)

AUDIT_DIR: Final = "audit"
AUDIT_FILE: Final = "audit.log"
LOCK_FILE: Final = "audit.lock"
DEFAULT_MAX_BYTES: Final = 100 * 1024 * 1024
DEFAULT_KEEP: Final = 10
DEFAULT_QUEUE_SIZE: Final = 10_000
BATCH: Final = 256  # events written per turn of the thread
CLOSE_TIMEOUT: Final = 10.0  # seconds `close` waits for the queue to be written
FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700
WRITTEN: Final = "written"
DROPPED: Final = "dropped"
_STOP: Final = object()


class AuditCounts(Protocol):
    def audit_counted(self, outcome: str, count: int) -> None:
        """`count` events `written` to the file or `dropped`; called from the writer's thread (and, with 0 for
        each outcome, from `start`)."""
        ...


def audit_dir(data_dir: Path) -> Path:
    return data_dir / AUDIT_DIR


def rotated_name(index: int) -> str:
    """The name of the index-th newest rotated file: audit.log.1 is the newest."""
    return f"{AUDIT_FILE}.{index}"


class AuditWriter:
    def __init__(
        self,
        data_dir: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        counts: AuditCounts | None = None,
    ) -> None:
        """`max_bytes`: the size past which the file is rotated; `keep`: rotated files kept. Call `start`."""
        self._dir = audit_dir(data_dir)
        self._path = self._dir / AUDIT_FILE
        self._max_bytes = max_bytes
        self._keep = keep
        self._counts = counts
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._dropped_lock = threading.Lock()
        self.dropped = 0

    @property
    def path(self) -> Path:
        return self._path

    def start(self) -> None:
        """Create the audit dir and start the writer's thread. Raises OSError when the dir cannot be made."""
        self._dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(self._dir, DIR_MODE)
        # Both outcomes' series exist from the start: none is first made (a new file among the workers' metrics
        # files) when the disk is already full, and a dashboard reads 0 dropped rather than no series at all.
        if self._counts is not None:
            for outcome in (WRITTEN, DROPPED):
                self._counts.audit_counted(outcome, 0)
        self._thread = threading.Thread(target=self._drain, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, event: dict[str, Any]) -> None:
        """Queue `event` (not changed afterwards by the caller); never blocks, never raises."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._drop(1, "the audit queue is full")

    def close(self) -> None:
        """Write what is queued (waiting at most CLOSE_TIMEOUT seconds), then stop the thread."""
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=CLOSE_TIMEOUT)
        self._thread.join(CLOSE_TIMEOUT)
        if self._thread.is_alive():
            return  # still writing (a disk that hangs): its descriptors stay its own
        self._thread = None
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None

    # -- the thread -------------------------------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            events = [e for e in batch if e is not _STOP]
            if events:
                try:
                    self._write(events)
                except Exception:  # the thread outlives any one batch: a batch lost is counted, never a hang
                    log.exception("writing audit events failed")
                    self._drop(len(events), "writing them failed")
            if len(events) != len(batch):
                return

    def _write(self, events: list[object]) -> None:
        pending: list[bytes] = []
        for event in events:
            try:
                pending.append((json.dumps(event, default=str, separators=(",", ":")) + "\n").encode())
            except (TypeError, ValueError):
                self._drop(1, "an audit event could not be written as JSON")
        written = 0
        try:
            with self._locked():
                fd = self._current_fd()
                size = os.fstat(fd).st_size
                for line in pending:
                    if size > 0 and size + len(line) > self._max_bytes:
                        fd = self._rotate()
                        size = 0
                    self._append(fd, line, size)
                    size += len(line)
                    written += 1
        except OSError as error:
            self._drop(len(pending) - written, f"the audit file cannot be written: {error.strerror or error}")
        if written and self._counts is not None:
            self._counts.audit_counted(WRITTEN, written)

    @staticmethod
    def _append(fd: int, line: bytes, size: int) -> None:
        """Under the lock: append `line` whole to the file of `size` bytes, or leave it as it was and raise OSError.
        A line written in part (the disk full, the file size limit reached) is cut off again: left in place it would
        run into the next line written and spoil both."""
        try:
            if os.write(fd, line) != len(line):
                raise OSError(errno.ENOSPC, "a line was written in part")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise

    def _rotate(self) -> int:
        """Under the lock: shift the rotated files, the current one becoming .1; returns the new file's descriptor."""
        oldest = self._dir / rotated_name(self._keep)
        if self._keep == 0:
            self._path.unlink(missing_ok=True)
        else:
            oldest.unlink(missing_ok=True)
            for index in range(self._keep - 1, 0, -1):
                older = self._dir / rotated_name(index)
                if older.exists():
                    older.rename(self._dir / rotated_name(index + 1))
            self._path.rename(self._dir / rotated_name(1))
        return self._open()

    def _current_fd(self) -> int:
        """The descriptor of the file at audit.log now: opened again when another worker rotated ours away."""
        if self._fd is not None:
            try:
                if os.stat(self._path).st_ino == os.fstat(self._fd).st_ino:
                    return self._fd
            except FileNotFoundError:
                pass
        return self._open()

    def _open(self) -> int:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        return self._fd

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The audit dir's lock, which every worker's writer holds for a batch: the size it reads stays true while
        it writes, and a rotation is one worker's alone."""
        if self._lock_fd is None:
            self._lock_fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _drop(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        with self._dropped_lock:
            self.dropped += count
        log.warning("audit events dropped: %s", reason, extra={"fields": {"dropped": count}})
        if self._counts is not None:
            self._counts.audit_counted(DROPPED, count)
