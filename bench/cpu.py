"""Where the CPU went while a figure was measured: to the server under test, and to other processes.

The server's CPU seconds tell how much work a figure cost it, whoever was the bottleneck. On a shared machine
a figure measured while something else was busy is low for reasons that have nothing to do with the
registry; each sample records the share of the CPUs other processes took, so the reader can tell.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import psutil


@dataclass
class CpuUse:
    """Filled in when the watched block ends."""

    server_seconds: float = 0.0  # CPU time of the watched server processes
    foreign_share: float = 0.0  # share (0 to 1) of all CPUs used by processes other than the benchmark's


@contextmanager
def watch_cpu(server_pids: Sequence[int], helper_pids: Sequence[int] = ()) -> Iterator[CpuUse]:
    """Measure the CPU time of the `server_pids` trees, and what was used outside them, this process and the
    benchmark's `helper_pids` trees (an upstream, say, which is the benchmark's but not the server under test)."""
    use = CpuUse()
    machine_before, client_before, server_before = _machine_busy(), _client_busy(), _servers_busy(server_pids)
    helpers_before = _servers_busy(helper_pids)
    started = time.monotonic()
    yield use
    elapsed = time.monotonic() - started
    use.server_seconds = _servers_busy(server_pids) - server_before
    ours = _client_busy() - client_before + use.server_seconds + _servers_busy(helper_pids) - helpers_before
    machine = _machine_busy() - machine_before
    capacity = elapsed * (psutil.cpu_count() or 1)
    use.foreign_share = min(max(machine - ours, 0.0) / capacity, 1.0) if capacity > 0 else 0.0


class Started(Protocol):
    """A server the benchmark started: a registry, an upstream, the file server."""

    process: subprocess.Popen[bytes] | None


def pids_of(servers: Iterable[Started]) -> list[int]:
    """The process ids of those `servers` that are running."""
    return [server.process.pid for server in servers if server.process is not None]


def machine_busy_share(seconds: float) -> float:
    """The share (0 to 1) of all CPUs busy over the next `seconds`, whoever used them."""
    return float(psutil.cpu_percent(interval=seconds)) / 100


def _machine_busy() -> float:
    """CPU seconds spent running processes, or stolen by the hypervisor, since boot (interrupts left out)."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + getattr(times, "steal", 0.0))


def _client_busy() -> float:
    """This process and its children that have ended (wrk)."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def _servers_busy(pids: Sequence[int]) -> float:
    total = 0.0
    for process in _trees(pids):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _trees(pids: Sequence[int]) -> Iterator[psutil.Process]:
    for pid in pids:
        try:
            root = psutil.Process(pid)
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        yield root
        yield from children
