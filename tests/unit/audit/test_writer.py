"""AuditWriter: lines written whole, files rotated by size with `keep` kept, drops counted, modes private."""

from __future__ import annotations

import json
import multiprocessing
import resource
import signal
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from pullcache.audit.reader import EventFilter, audit_files, read_events
from pullcache.audit.writer import DROPPED, WRITTEN, AuditWriter


class Counts:
    def __init__(self) -> None:
        self.counted: dict[str, int] = {}
        self._lock = threading.Lock()

    def audit_counted(self, outcome: str, count: int) -> None:
        with self._lock:
            self.counted[outcome] = self.counted.get(outcome, 0) + count


def event(number: int, padding: int = 200) -> dict[str, object]:
    return {"eventName": "PutImage", "eventTime": "2026-01-02T03:04:05Z", "n": number, "pad": "x" * padding}


SPAWN: Final = multiprocessing.get_context("spawn")  # a fresh interpreter: a worker process as the server starts it
PROCESS_TIMEOUT: Final = 60.0


def write_in_a_process(
    data_dir: Path, numbers: range, max_bytes: int, pause: float = 0.0, together: Any | None = None
) -> None:
    """A worker's writer in a process of its own: `numbers` recorded (`pause` seconds apart), then closed;
    `together`: a barrier to start writing at once with the other processes."""
    writer = AuditWriter(data_dir, max_bytes=max_bytes, keep=1000)
    writer.start()
    if together is not None:
        together.wait(PROCESS_TIMEOUT)
    for number in numbers:
        writer.record(event(number, padding=100))
        if pause:
            time.sleep(pause)
    writer.close()


def write_past_a_file_size_limit(data_dir: Path, limit: int) -> None:
    """Three events with the process's file size limit at `limit` bytes (the third fits in part only: as a disk
    that fills up), then one more with the limit lifted."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing us
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    writer = AuditWriter(data_dir)
    writer.start()
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    for number in range(3):
        writer.record(event(number))
    writer.close()
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    writer = AuditWriter(data_dir)
    writer.start()
    writer.record(event(3))
    writer.close()


def run_in_a_process(target: Callable[..., None], *arguments: object) -> None:
    process = SPAWN.Process(target=target, args=arguments)
    process.start()
    process.join(PROCESS_TIMEOUT)
    assert process.exitcode == 0


def test_the_file_rotates_past_its_size_and_keeps_the_newest_files(tmp_path: Path) -> None:
    counts = Counts()
    writer = AuditWriter(tmp_path, max_bytes=2048, keep=3, counts=counts)
    writer.start()
    for number in range(100):
        writer.record(event(number))
    writer.close()

    files = audit_files(tmp_path)
    assert [f.name for f in files] == ["audit.log.3", "audit.log.2", "audit.log.1", "audit.log"]
    for path in files:
        assert path.stat().st_size <= 2048
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "audit").stat().st_mode) == 0o700
    numbers = [e["n"] for e in read_events(tmp_path, EventFilter())]
    # The oldest files went; what is kept is the newest events, in order, each line whole.
    assert numbers == list(range(100 - len(numbers), 100))
    assert 0 < len(numbers) < 100
    assert counts.counted == {WRITTEN: 100, DROPPED: 0}


def test_two_writers_rotate_once_and_lose_no_line(tmp_path: Path) -> None:
    writers = [AuditWriter(tmp_path, max_bytes=4096, keep=1000) for _ in range(2)]
    for writer in writers:
        writer.start()
    for number in range(300):
        writers[number % 2].record(event(number, padding=100))
    for writer in writers:
        writer.close()
    lines = [line for path in audit_files(tmp_path) for line in path.read_bytes().splitlines()]
    assert sorted(json.loads(line)["n"] for line in lines) == list(range(300))
    assert all(path.stat().st_size <= 4096 for path in audit_files(tmp_path))


def test_a_started_writer_counts_both_outcomes_before_any_event(tmp_path: Path) -> None:
    counts = Counts()
    writer = AuditWriter(tmp_path, counts=counts)
    writer.start()
    assert counts.counted == {WRITTEN: 0, DROPPED: 0}  # both series made before the first event
    writer.close()


def test_events_past_the_queue_are_dropped_and_counted(tmp_path: Path) -> None:
    counts = Counts()
    writer = AuditWriter(tmp_path, queue_size=5, counts=counts)  # not started: nothing drains the queue
    for number in range(8):
        writer.record(event(number))
    assert writer.dropped == 3
    assert counts.counted == {DROPPED: 3}


def test_a_file_that_cannot_be_written_drops_events_without_raising(tmp_path: Path) -> None:
    counts = Counts()
    writer = AuditWriter(tmp_path, counts=counts)
    writer.start()
    (tmp_path / "audit" / "audit.log").mkdir()  # open() fails (as root too, which a mode would not stop)
    writer.record(event(1))
    writer.close()
    assert counts.counted == {WRITTEN: 0, DROPPED: 1}
    assert writer.dropped == 1


def test_two_writer_processes_rotate_the_file_and_lose_no_line(tmp_path: Path) -> None:
    together = SPAWN.Barrier(2)
    processes = [
        SPAWN.Process(target=write_in_a_process, args=(tmp_path, range(start, 1200, 2), 2048, 0.0, together))
        for start in (0, 1)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(PROCESS_TIMEOUT)
        assert process.exitcode == 0
    files = audit_files(tmp_path)
    assert len(files) > 20  # rotated many times, by both
    assert all(path.stat().st_size <= 2048 for path in files)
    lines = [line for path in files for line in path.read_bytes().splitlines()]
    assert sorted(json.loads(line)["n"] for line in lines) == list(range(1200))  # every line whole, none lost


def test_a_line_written_in_part_is_cut_off_and_the_next_line_parses(tmp_path: Path) -> None:
    line = len(json.dumps(event(0), separators=(",", ":"))) + 1
    run_in_a_process(write_past_a_file_size_limit, tmp_path, 2 * line + line // 2)
    text = (tmp_path / "audit" / "audit.log").read_bytes()
    assert [json.loads(one)["n"] for one in text.splitlines()] == [0, 1, 3]
    assert len(text) == 3 * line


def test_reading_while_another_process_rotates_repeats_and_skips_no_event(tmp_path: Path) -> None:
    writer = SPAWN.Process(target=write_in_a_process, args=(tmp_path, range(900), 1024, 0.002))
    writer.start()
    reads = 0
    try:
        while writer.is_alive() or reads == 0:
            numbers = [e["n"] for e in read_events(tmp_path, EventFilter())]
            assert numbers == list(range(len(numbers)))  # oldest first, each once, none missing
            reads += 1
    finally:
        writer.join(PROCESS_TIMEOUT)
    assert writer.exitcode == 0
    assert [e["n"] for e in read_events(tmp_path, EventFilter())] == list(range(900))
