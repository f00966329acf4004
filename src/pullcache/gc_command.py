"""`pullcache gc`: one garbage collection over a data dir, beside a running server or not.

It prints what it freed (with --dry-run, what it would free, deleting nothing), with a progress line on a
terminal; exit 0 when it ran, 1 when another collection held the data dir for longer than --wait, 2 on bad
arguments. The collection itself is registry/collection.py's.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from pullcache.config import ConfigError, Settings

REDRAW_SECONDS = 0.1
BAR_WIDTH = 30


def add_gc_command(commands: argparse._SubParsersAction[Any], defaults: Settings) -> argparse.ArgumentParser:
    """The `gc` subcommand, less where it finds the data (the caller adds --data-dir and --database-url)."""
    command: argparse.ArgumentParser = commands.add_parser(
        "gc",
        help="free the blobs no image needs (safe while the server runs)",
        description="Collect garbage once: links no manifest names (older than the grace period), blobs no "
        "repository links, files the database does not know, abandoned uploads. Prints what was freed.",
    )
    command.set_defaults(command_parser=command)
    command.add_argument("--dry-run", action="store_true", help="print what would be freed; delete nothing")
    command.add_argument(
        "--grace",
        type=float,
        default=defaults.gc_grace,
        help="seconds a blob linked by no manifest is kept after its upload (default %(default)s)",
    )
    command.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for a collection under way (the server's) to end (default %(default)s)",
    )
    return command


def run(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> None:
    data_dir = Path(arguments.data_dir)
    if arguments.grace < 0 or arguments.wait < 0:
        parser.error("--grace and --wait must not be negative")
    if not (data_dir / "blobs").is_dir():
        parser.error(f"{data_dir} is not a pullcache data dir (it has no blobs/)")
    from pullcache import admin  # the database's modules: only once there is a collection to run

    line = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
    try:
        report = admin.collect_garbage(
            data_dir,
            database_url=arguments.database_url,
            grace=timedelta(seconds=arguments.grace),
            dry_run=arguments.dry_run,
            progress=line.update if line is not None else None,
            wait=arguments.wait,
        )
    except admin.CollectionRunning as error:
        if line is not None:
            line.clear()
        sys.exit(f"pullcache gc: {error}")
    except ConfigError as error:
        parser.error(str(error))
    if line is not None:
        line.clear()
    print(report.summary())
    for failure in report.failures:
        print(f"skipped: {failure}", file=sys.stderr)


class ProgressLine:
    """One line redrawn in place: the phase, a bar when the total is known, the count."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._drawn_at = 0.0

    def update(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._drawn_at < REDRAW_SECONDS and done != total:
            return
        self._drawn_at = now
        self._stream.write("\r\x1b[2K" + render_progress(phase, done, total))
        self._stream.flush()

    def clear(self) -> None:
        self._stream.write("\r\x1b[2K")
        self._stream.flush()


def render_progress(phase: str, done: int, total: int) -> str:
    """`[#####.....] repositories 12/40`, or `blobs 1200` when the total is not known."""
    if total <= 0:
        return f"{phase} {done}"
    filled = BAR_WIDTH * min(done, total) // total
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {phase} {done}/{total}"
