"""The master of `pullcache serve --workers N`: it starts the workers, passes signals on, restarts a worker that
dies, and gives up on workers that cannot start.

- SIGTERM / SIGINT: passed on as SIGTERM (each worker finishes its requests and stops); the master exits once all
  have. SIGHUP is passed on when the workers use it (certificate reload).
- A worker that dies on its own is restarted. One that dies within STARTUP_SECONDS of its start counts as failing to
  start: its next start waits longer each time (from RESTART_PAUSE, doubling, at most MAX_RESTART_PAUSE), and after
  MAX_FAILED_STARTS such deaths in a row, with no worker lasting meanwhile, the master stops every worker and exits
  with WorkersCannotStart: a worker that cannot start now (its port taken by another program since the master
  checked it, its certificate unreadable) would not start later either, and restarting it forever would only fill
  the log.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

STARTUP_SECONDS = 10.0  # a worker dying sooner than this after its start failed to start
MAX_FAILED_STARTS = 5  # failed starts in a row, across the workers, after which the master gives up
RESTART_PAUSE = 0.5  # seconds before the first restart after a failed start; doubled each time
MAX_RESTART_PAUSE = 10.0
JOIN_SECONDS = 0.5  # how long the master waits on one worker before looking at the next


class WorkersCannotStart(Exception):
    """The workers die as they start; the master has stopped them all."""


@dataclass(slots=True)
class _Slot:
    """One worker's place: the process in it now, when it started, and when a replacement may start."""

    process: BaseProcess | None = None
    started_at: float = 0.0
    restart_at: float = 0.0


class Supervisor:
    def __init__(
        self,
        workers: int,
        run: Callable[..., None],
        args: tuple[object, ...],
        *,
        pass_hangup: bool,
        forget: Callable[[int], None],
    ) -> None:
        """`run(*args, master_pid)` is what each worker process runs; `forget(pid)` clears what a dead worker left
        (its metrics files)."""
        self._context = multiprocessing.get_context("spawn")
        self._run = run
        self._args = args
        self._slots = [_Slot() for _ in range(workers)]
        self._pass_hangup = pass_hangup
        self._forget = forget
        self._stopping = False
        self._failed_starts = 0

    def run(self) -> None:
        """Serve until a stop signal (returns) or until the workers cannot start (raises WorkersCannotStart)."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        if self._pass_hangup:
            signal.signal(signal.SIGHUP, self._pass_on)
        for slot in self._slots:
            self._start(slot)
        while not self._stopping or any(slot.process is not None for slot in self._slots):
            for slot in self._slots:
                self._watch(slot)

    def _watch(self, slot: _Slot) -> None:
        process = slot.process
        if process is None:
            if not self._stopping and time.monotonic() >= slot.restart_at:
                self._start(slot)
            else:
                time.sleep(min(JOIN_SECONDS, max(0.0, slot.restart_at - time.monotonic())))
            return
        process.join(timeout=JOIN_SECONDS)
        if process.exitcode is None:
            if time.monotonic() - slot.started_at >= STARTUP_SECONDS:
                self._failed_starts = 0  # a worker lasted: failures before it were not a pattern
            return
        slot.process = None
        if process.pid is not None:
            self._forget(process.pid)
        if self._stopping:
            return
        lived = time.monotonic() - slot.started_at
        if lived < STARTUP_SECONDS:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:
                self._give_up(
                    f"workers died within {STARTUP_SECONDS:g} s of starting {self._failed_starts} times in a row"
                )
            pause = min(MAX_RESTART_PAUSE, RESTART_PAUSE * 2 ** (self._failed_starts - 1))
            slot.restart_at = time.monotonic() + pause
            log.error(
                "worker %s exited with %s %.1f s after it started; restarting it in %.1f s",
                process.pid,
                process.exitcode,
                lived,
                pause,
            )
        else:
            log.error("worker %s exited with %s; restarting it", process.pid, process.exitcode)

    def _start(self, slot: _Slot) -> None:
        process = self._context.Process(target=self._run, args=(*self._args, os.getpid()), daemon=False)
        # A worker starts with SIGHUP blocked: a handler does not outlive exec, a signal mask does, and the worker
        # unblocks it once it ignores or handles it (a SIGHUP meanwhile would end it).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        slot.process = process
        slot.started_at = time.monotonic()
        if self._stopping:  # a stop signal came while it started: _stop did not see it
            process.terminate()

    def _give_up(self, reason: str) -> None:
        self._stop(signal.SIGTERM, None)
        for slot in self._slots:
            if slot.process is not None:
                slot.process.join()
                slot.process = None
        raise WorkersCannotStart(reason)

    def _stop(self, _signum: int, _frame: object) -> None:
        self._stopping = True
        for slot in self._slots:
            if slot.process is not None and slot.process.is_alive() and slot.process.pid is not None:
                slot.process.terminate()

    def _pass_on(self, signum: int, _frame: object) -> None:
        for slot in self._slots:
            if slot.process is not None and slot.process.is_alive() and slot.process.pid is not None:
                os.kill(slot.process.pid, signum)
