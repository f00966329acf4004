"""One server per data dir, and workers that do not outlive their server.

    <data-dir>/server.lock   every process of a running server holds a shared flock on it: the master (or the
                             one process of a single-worker server) and each of its workers

A server starting takes the lock exclusively first: it cannot while any process of another server holds it, not
even a worker still finishing its requests after its master died, so it refuses with DataDirInUse instead of
serving beside old code on the same port (SO_REUSEPORT would let it). Once it has the lock it holds it shared,
and its workers join with shared locks of their own. The kernel drops a dead process's lock, kill -9 included.

A worker asks the kernel for SIGTERM when its master dies (Linux's parent-death signal), so a master killed with
kill -9 takes its workers with it: they stop as on any SIGTERM, finishing the requests in flight.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_FILE = "server.lock"
_PR_SET_PDEATHSIG = 1  # prctl(2)


class DataDirInUse(Exception):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            f"another pullcache server (or a worker of one, still finishing) is using the data dir {data_dir}: "
            "stop it first"
        )


def claim_data_dir(data_dir: Path) -> int:
    """Take the data dir for this server and return the lock's file descriptor, to keep open while the server
    runs. Raises DataDirInUse when any process of another server holds it."""
    fd = _open_lock(data_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUse(data_dir) from None
    fcntl.flock(fd, fcntl.LOCK_SH)  # the workers join with shared locks
    return fd


def join_data_dir(data_dir: Path) -> int:
    """A worker's share of its server's claim: the lock's file descriptor, to keep open while the worker runs."""
    fd = _open_lock(data_dir)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def die_with_parent(parent_pid: int) -> None:
    """Be sent SIGTERM when the process `parent_pid` (this worker's master) dies; stop now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            log.warning("cannot ask to die with the master: %s", os.strerror(ctypes.get_errno()))
    if os.getppid() != parent_pid:  # the master died before the request above
        os.kill(os.getpid(), signal.SIGTERM)


def _open_lock(data_dir: Path) -> int:
    return os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
