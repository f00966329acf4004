"""The server's processes: one server per data dir, workers that die with their master (kill -9 included), the
open file limit raised to the hard limit, and starts that cannot happen stopped with one line."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
import ssl
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
GIVING_UP_WITHIN = 120.0  # seconds: five restarts, each waited for a little longer


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


def refused_start(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`pullcache serve ARGUMENTS` expected to stop at once."""
    return subprocess.run(
        [sys.executable, "-m", "pullcache", "serve", *arguments],
        capture_output=True,
        text=True,
        timeout=REFUSAL_WITHIN,
        env={**os.environ, **(environment or {})},
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_port_in_use_stops_the_start_with_one_line_before_anything_is_written(tmp_path: Path) -> None:
    server = PullcacheServer(tmp_path / "first").start()
    try:
        data_dir = tmp_path / "second"
        refused = refused_start("--port", str(server.port), "--data-dir", str(data_dir))
    finally:
        server.stop()

    assert one_line(refused) == (f"pullcache serve: cannot listen on 127.0.0.1:{server.port}: Address already in use")
    assert not (data_dir / "credentials").exists()  # the first start's files come after the checks
    assert not (data_dir / "metadata.db").exists()


def test_a_data_dir_that_cannot_be_made_stops_the_start_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    refused = refused_start("--port", str(free_port()), "--data-dir", str(blocker / "data"))

    assert one_line(refused) == f"pullcache serve: cannot use the data dir {blocker / 'data'}: Not a directory"


def test_a_database_that_cannot_be_opened_stops_the_start_with_one_line_and_no_password(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://pullcache:secret-password@127.0.0.1:1/pullcache"

    refused = refused_start("--port", str(free_port()), "--data-dir", str(tmp_path / "data"), "--database-url", url)

    line = one_line(refused)
    assert line.startswith("pullcache serve: cannot open the database postgresql+asyncpg://pullcache:***@127.0.0.1:1/")
    assert "secret-password" not in refused.stderr


def test_a_database_newer_than_the_code_stops_the_start_with_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    PullcacheServer(data_dir).start().stop()
    database = sqlite3.connect(data_dir / "metadata.db")
    with database:
        database.execute("UPDATE alembic_version SET version_num = 'from_a_newer_pullcache'")
    database.close()

    refused = refused_start("--port", str(free_port()), "--data-dir", str(data_dir))

    line = one_line(refused)
    assert line.startswith(f"pullcache serve: cannot open the database sqlite+aiosqlite:///{data_dir.resolve()}")
    assert "from_a_newer_pullcache" in line


def test_an_unreadable_setting_in_the_environment_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    refused = refused_start("--data-dir", str(tmp_path / "data"), environment={"PULLCACHE_PORT": "five thousand"})

    assert "argument --port: invalid int value: 'five thousand'" in one_line(refused)


def test_workers_that_keep_dying_as_they_start_stop_the_server_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*serve_command(tmp_path / "data", port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/v2/", process)
        master = psutil.Process(process.pid)
        deadline = time.monotonic() + GIVING_UP_WITHIN
        while process.poll() is None and time.monotonic() < deadline:  # as a worker crashing at start would
            for child in master.children():
                with contextlib.suppress(psutil.Error):  # gone, or dead and not yet reaped
                    if "spawn_main" in " ".join(child.cmdline()):
                        child.kill()
            time.sleep(0.05)
        _out, errors = process.communicate(timeout=WORKERS_GONE_WITHIN)
        stderr = errors.decode()
    finally:
        stop_process_group(process)

    assert process.returncode == 1
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert lines == ["pullcache serve: workers died within 10 s of starting 5 times in a row"]
    assert "restarting it in" in stderr  # each restart waited, longer each time


def test_sighup_while_a_tls_server_starts_stops_neither_it_nor_its_workers(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*serve_command(tmp_path / "data", port), "--workers", "2", "--tls", "self-signed"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    unverified = ssl._create_unverified_context()  # the certificate is not what this test is about
    served = False
    try:
        deadline = time.monotonic() + REFUSAL_WITHIN
        while not (tmp_path / "data" / "server.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the server's own code runs: from here on a SIGHUP is its to handle
        while not served and process.poll() is None and time.monotonic() < deadline:
            for target in (psutil.Process(process.pid), *psutil.Process(process.pid).children()):
                with contextlib.suppress(psutil.Error):
                    target.send_signal(signal.SIGHUP)  # a certificate renewal hook, early
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=1, context=unverified):
                    served = True
            except OSError:
                time.sleep(0.05)
    finally:
        stop_process_group(process)
        assert process.stderr is not None
        with process.stderr:
            stderr = process.stderr.read().decode()
    assert served, stderr[-3000:]
    assert "exited with" not in stderr  # no worker died of it either
