"""The resident memory of a server process (and its children), sampled in a background thread."""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

import psutil

SAMPLE_INTERVAL = 0.05  # seconds


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of `process` and every process below it; a process that has just exited counts 0."""
    total = 0
    try:
        members = (process, *process.children(recursive=True))
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


class RssSampler:
    """Samples `tree_rss` every SAMPLE_INTERVAL while the `with` block runs.

    `baseline` is taken on entry, `peak` is the largest sample (entry and exit included), so `growth` is how
    far memory rose above where it stood before the work began.
    """

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.baseline = 0
        self.peak = 0
        self.samples = 0

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = tree_rss(self._process)
        self.samples = 1
        self._thread.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, tree_rss(self._process))
        self.samples += 1

    def describe(self) -> str:
        return (
            f"baseline {self.baseline / 2**20:.1f} MiB, peak {self.peak / 2**20:.1f} MiB, "
            f"growth {self.growth / 2**20:.1f} MiB over {self.samples} samples"
        )
