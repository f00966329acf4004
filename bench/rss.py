"""The resident memory of a server's process tree, sampled in a background thread while a block runs."""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

import psutil

SAMPLE_SECONDS = 0.02


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every process below it; a process that has just exited counts 0."""
    total = 0
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        for member in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
    return total


class PeakRss:
    """`peak` is the largest tree RSS of `pid` seen while the `with` block ran (its entry and exit included)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak = 0

    def __enter__(self) -> PeakRss:
        self.peak = tree_rss(self._pid)
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, tree_rss(self._pid))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, tree_rss(self._pid))
