"""The server's processes: one server per data dir, workers that die with their master (kill -9 included), and
the open file limit raised to the hard limit."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from testkit.servers import PullcacheServer, free_port, stop_process_group, wait_until_serving

pytestmark = pytest.mark.slow

WORKERS_GONE_WITHIN = 30.0  # seconds: a worker told to stop finishes its requests first (none here)
REFUSAL_WITHIN = 60.0


def serve_command(data_dir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "pullcache", "serve", "--port", str(port), "--data-dir", str(data_dir)]


def worker_processes(master: psutil.Process, count: int) -> list[psutil.Process]:
    """The master's worker processes (not multiprocessing's resource tracker), once `count` of them run."""
    deadline = time.monotonic() + WORKERS_GONE_WITHIN
    while True:
        workers = [child for child in master.children() if "spawn_main" in " ".join(child.cmdline())]
        if len(workers) >= count or time.monotonic() > deadline:
            assert len(workers) == count
            return workers
        time.sleep(0.1)


def test_a_second_server_on_the_same_data_dir_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = PullcacheServer(data_dir).start()
    try:
        second = subprocess.run(
            serve_command(data_dir, free_port()), capture_output=True, text=True, timeout=REFUSAL_WITHIN
        )

        assert second.returncode != 0
        assert "another pullcache server" in second.stderr
        assert str(data_dir) in second.stderr
        assert "Traceback" not in second.stderr
        with urllib.request.urlopen(f"{server.url}/v2/", timeout=10) as reply:  # the first one serves on
            assert reply.status == 200
    finally:
        server.stop()


def test_workers_die_with_a_master_killed_with_sigkill_and_free_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = PullcacheServer(data_dir, workers=2).start()
    assert server.process is not None
    master = psutil.Process(server.process.pid)
    workers = worker_processes(master, 2)
    try:
        os.kill(master.pid, signal.SIGKILL)
        server.process.wait(timeout=10)

        _gone, alive = psutil.wait_procs(workers, timeout=WORKERS_GONE_WITHIN)

        assert alive == []
        restarted = PullcacheServer(data_dir, port=server.port).start()  # the data dir and the port are free
        restarted.stop()
    finally:
        for worker in workers:
            if worker.is_running():
                worker.kill()


def test_the_server_raises_its_open_file_limit_to_the_hard_limit(tmp_path: Path) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 256
    if hard != resource.RLIM_INFINITY and hard <= low:
        pytest.skip(f"the hard limit of open files here is {hard}")
    port = free_port()

    def start_low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    process = subprocess.Popen(
        [*serve_command(tmp_path / "data", port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=start_low,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/v2/", process)
        master = psutil.Process(process.pid)
        expected = low if hard == resource.RLIM_INFINITY else hard

        for served_by in (master, *worker_processes(master, 2)):
            assert served_by.rlimit(psutil.RLIMIT_NOFILE)[0] == expected
    finally:
        stop_process_group(process)
