"""The directory where the workers' metric values meet: prometheus_client's multiprocess mode.

`serve` empties `<data-dir>/metrics` and names it in PROMETHEUS_MULTIPROC_DIR before any worker starts; each
worker, a fresh interpreter (spawned), imports prometheus_client with it set and writes its values to files of its
own there, and a scrape of any worker reads them all (exposition.py). A server of one process imported
prometheus_client before the variable was set, and keeps its values in memory. The directory is the server's:
emptied at every start (counters start again from zero, as Prometheus expects of a restart), a worker that died
forgotten by its master (its in-flight gauges no longer summed; its counts kept).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

from prometheus_client import multiprocess

ENVIRONMENT: Final = "PROMETHEUS_MULTIPROC_DIR"
DIRECTORY: Final = "metrics"  # under the data dir


def share_values(data_dir: Path) -> Path:
    """Empty the shared directory under `data_dir` and name it for the workers to come (and for this process).
    Raises OSError when it cannot be made."""
    directory = data_dir / DIRECTORY
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[ENVIRONMENT] = str(directory)
    return directory


def forget_process(pid: int) -> None:
    """A worker died: its live gauges (requests and fills in flight) leave the sums."""
    if ENVIRONMENT in os.environ:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # (prometheus_client leaves it untyped)
