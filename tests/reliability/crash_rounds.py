"""Rounds of kill -9 at a random moment of a workload, a restart on the same data dir, and an audit.

Each round starts the server on the data dir the rounds share (what every earlier round left included), lets the
workload's clients run, and after a delay drawn from the scenario's seeded random source kills one of:

    SERVER   the server of one process (its whole process group)
    WORKER   one worker of two, chosen by the draw; the master starts another and the clients go on a little on
             the workers left, then the server stops as usual
    MASTER   the master of two workers; they stop as they do when it dies (they finish their requests) and
             the next server must wait for none of them

Then the server must start again at once on the same data dir and port (no stale lock, nothing to repair), its
log must hold no traceback, every file of its blob store must hash to its name, and the workload checks
everything it was told was stored. The same seed gives the same delays, workers and content.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from testkit.registry_client import TRANSFER_TIMEOUT, RegistryClient
from testkit.servers import PullcacheServer, free_port
from tests.reliability.crash_workloads import Workload
from tests.reliability.ledger import Ledger
from tests.reliability.store_audit import hash_blob_store

KILL_AFTER: Final = (0.3, 2.5)  # seconds of load before the kill: drawn uniformly
LOAD_AFTER_WORKER_KILL: Final = 1.0  # seconds the clients go on with the workers left
PROCESSES_GONE_WITHIN: Final = 30.0  # a worker whose master died finishes its requests first
CLIENTS_GRACE: Final = 1.0  # seconds the clients get to finish their step; then they hang up mid-request


class KillTarget(enum.Enum):
    SERVER = "the server"
    WORKER = "a worker of two"
    MASTER = "the master of two workers"

    @property
    def workers(self) -> int:
        return 1 if self is KillTarget.SERVER else 2


@dataclass(frozen=True, slots=True)
class CrashReport:
    rounds: int
    blobs_hashed: int
    checked: str  # the workload's account of its last audit


def worker_processes(server: PullcacheServer) -> list[psutil.Process]:
    """The master's worker processes (not multiprocessing's resource tracker)."""
    assert server.process is not None
    workers = []
    for child in psutil.Process(server.process.pid).children():
        with contextlib.suppress(psutil.Error):  # gone, or a zombie its master has not reaped yet
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                workers.append(child)
    return workers


async def wait_for_workers(server: PullcacheServer, count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + PROCESSES_GONE_WITHIN
    while len(workers := worker_processes(server)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} workers after {PROCESSES_GONE_WITHIN} s"
        await asyncio.sleep(0.05)
    return workers


async def run_crash_rounds(
    workload: Workload, target: KillTarget, rounds: int, seed: int, data_dir: Path
) -> CrashReport:
    draw = random.Random(f"{seed}/{workload.name}/{target.name}")
    port = free_port()
    ledger = Ledger()
    blobs_hashed, checked = 0, ""
    server = await _start(data_dir, port, target)
    try:
        for round_number in range(rounds):
            await workload.before_round(server, round_number)
            stop = asyncio.Event()
            clients = asyncio.create_task(workload.run(server, ledger, stop, round_number))
            await asyncio.sleep(draw.uniform(*KILL_AFTER))
            await _kill(server, target, draw)
            await _stop_clients(clients, stop)
            await _stop_what_is_left(server, target)

            log_before = len(server.log())
            server = await _start(data_dir, port, target)  # the next round's server, too
            assert "Traceback" not in server.log()[log_before:], server.log()[log_before:]
            blobs_hashed = await asyncio.to_thread(hash_blob_store, data_dir)
            async with RegistryClient.connect(server.url, request_timeout=TRANSFER_TIMEOUT) as client:
                checked = await workload.verify(client, ledger)
                ledger.statuses.update(client.statuses)
            undocumented = ledger.undocumented_5xx()
            assert not undocumented, f"round {round_number} (seed {seed}): answers {undocumented}"
    finally:
        await asyncio.to_thread(server.stop, signal.SIGKILL)
    return CrashReport(rounds, blobs_hashed, checked)


async def _start(data_dir: Path, port: int, target: KillTarget) -> PullcacheServer:
    """The server on the rounds' data dir and port, with all its workers up: it must start at once."""
    server = PullcacheServer(data_dir, port=port, workers=target.workers)
    try:
        await asyncio.to_thread(server.start)
        if target.workers > 1:
            await wait_for_workers(server, target.workers)
    except BaseException:
        if server.process is not None:
            await asyncio.to_thread(server.stop, signal.SIGKILL)
        raise
    return server


async def _kill(server: PullcacheServer, target: KillTarget, draw: random.Random) -> None:
    assert server.process is not None
    if target is KillTarget.SERVER:
        os.killpg(server.process.pid, signal.SIGKILL)
    elif target is KillTarget.WORKER:
        victim = draw.choice(sorted(worker_processes(server), key=lambda process: process.pid))
        victim.kill()
        await asyncio.sleep(LOAD_AFTER_WORKER_KILL)
        replaced = await wait_for_workers(server, target.workers)
        assert victim.pid not in {worker.pid for worker in replaced}, "the master did not replace the dead worker"
    else:
        os.kill(server.process.pid, signal.SIGKILL)


async def _stop_clients(clients: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Stop the clients after their step, or mid-request after CLIENTS_GRACE: a worker finishing its requests
    (on SIGTERM, or when its master died) then has none left to wait for."""
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(clients), CLIENTS_GRACE)
    except TimeoutError:
        clients.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await clients


async def _stop_what_is_left(server: PullcacheServer, target: KillTarget) -> None:
    """Bring the server down the way its kill leaves it to go: gracefully after a worker's death, on their own
    for a dead master's workers (bounded)."""
    assert server.process is not None
    if target is KillTarget.WORKER:
        await asyncio.to_thread(server.stop)
    elif target is KillTarget.SERVER:
        await asyncio.to_thread(server.process.wait, PROCESSES_GONE_WITHIN)
    else:
        workers = [
            process
            for process in psutil.process_iter()
            if process.pid != server.process.pid and _in_group(process, server.process.pid)
        ]
        await asyncio.to_thread(server.process.wait, PROCESSES_GONE_WITHIN)
        _, alive = await asyncio.to_thread(psutil.wait_procs, workers, PROCESSES_GONE_WITHIN)
        assert not alive, f"workers {[p.pid for p in alive]} outlived their master by {PROCESSES_GONE_WITHIN} s"


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group
    except (ProcessLookupError, PermissionError):
        return False
