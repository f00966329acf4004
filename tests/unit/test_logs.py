"""Repeated log lines held back (RepeatedLines) and asyncio's errors routed through them (log_loop_error)."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
from collections.abc import Iterator

import pytest

from pullcache.logs import MAX_TRACKED_LINES, JsonFormatter, RepeatedLines, log_loop_error, loggable_query


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    """What a log handler behind the filter writes, as the JSON objects of the real formatter."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.written: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.written.append(json.loads(self.format(record)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines(clock: Clock) -> Iterator[tuple[Lines, RepeatedLines]]:
    """A handler on a test logger (and asyncio's) with a RepeatedLines of a 60 s interval on the fake clock."""
    handler = Lines()
    repeats = RepeatedLines(interval=60.0, clock=clock)
    handler.addFilter(repeats)
    loggers = [logging.getLogger("test.repeats"), logging.getLogger("asyncio")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if logger is loggers[0] else logging.INFO)  # not asyncio's "Using selector"
        logger.propagate = False
    yield handler, repeats
    for logger in loggers:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


log = logging.getLogger("test.repeats")


def test_a_repeated_warning_is_written_once_an_interval_with_the_count_held_back(
    lines: tuple[Lines, RepeatedLines], clock: Clock
) -> None:
    handler, _repeats = lines
    for attempt in range(1000):
        log.warning("refused a connection from %s", f"10.0.0.{attempt % 250}")
        clock.now += 0.01  # 10 s in all

    assert [line["message"] for line in handler.written] == ["refused a connection from 10.0.0.0"]
    clock.now += 60
    log.warning("refused a connection from %s", "10.0.0.9")
    assert len(handler.written) == 2
    assert handler.written[1]["suppressed"] == 999
    assert "suppressed" not in handler.written[0]


def test_lines_of_other_format_level_or_repeat_key_are_counted_apart(lines: tuple[Lines, RepeatedLines]) -> None:
    handler, _repeats = lines
    for _ in range(3):
        log.warning("one thing")
        log.warning("another thing")
        log.error("one thing")
        log.warning("rejected: %s", "method", extra={"repeat_key": "method"})
        log.warning("rejected: %s", "url", extra={"repeat_key": "url"})

    assert len(handler.written) == 5


def test_info_and_debug_lines_are_never_held_back(lines: tuple[Lines, RepeatedLines]) -> None:
    handler, _repeats = lines
    for _ in range(50):
        log.info("GET /v2/ 200")
        log.debug("detail")

    assert len(handler.written) == 100


def test_exceptions_raised_at_different_places_are_different_lines(lines: tuple[Lines, RepeatedLines]) -> None:
    handler, _repeats = lines

    def fail_here() -> None:
        raise ValueError("here")

    def fail_there() -> None:
        raise ValueError("there")

    for _ in range(3):
        for fail in (fail_here, fail_there):
            try:
                fail()
            except ValueError:
                log.exception("unhandled error")

    assert len(handler.written) == 2
    assert all("Traceback" in str(line["exception"]) for line in handler.written)


def test_flush_writes_the_repeats_of_an_interval_that_ended_quietly(
    lines: tuple[Lines, RepeatedLines], clock: Clock
) -> None:
    handler, repeats = lines
    for number in range(5):
        log.warning("slow client %s", number)
    repeats.flush()
    assert len(handler.written) == 1  # the interval has not ended

    clock.now += 61
    repeats.flush()
    assert [(line["message"], line["suppressed"]) for line in handler.written[1:]] == [("slow client 4", 3)]
    repeats.flush()
    assert len(handler.written) == 2  # reported once

    log.warning("slow client %s", 5)  # within the interval that the report began
    assert len(handler.written) == 2


def test_flush_of_everything_reports_what_is_held_however_recent(lines: tuple[Lines, RepeatedLines]) -> None:
    handler, repeats = lines
    for _ in range(4):
        log.warning("stopping")
    repeats.flush(everything=True)

    assert [line.get("suppressed") for line in handler.written] == [None, 2]


def test_a_report_leaves_out_the_traceback_the_first_line_showed(
    lines: tuple[Lines, RepeatedLines], clock: Clock
) -> None:
    handler, repeats = lines
    for _ in range(3):
        try:
            raise OSError("boom")
        except OSError:
            log.exception("failed")
    clock.now += 61
    repeats.flush()

    assert "exception" in handler.written[0]
    assert "exception" not in handler.written[1]


def test_the_lines_remembered_are_bounded(lines: tuple[Lines, RepeatedLines]) -> None:
    handler, repeats = lines
    for number in range(MAX_TRACKED_LINES * 3):
        log.warning(f"distinct line {number}")

    assert len(handler.written) == MAX_TRACKED_LINES * 3
    assert len(repeats._lines) <= MAX_TRACKED_LINES


def test_a_flood_of_accept_errors_from_the_event_loop_is_one_warning_without_traceback(
    lines: tuple[Lines, RepeatedLines],
) -> None:
    handler, _repeats = lines
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(log_loop_error)
        for _ in range(5000):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                }
            )
    finally:
        loop.close()

    assert len(handler.written) == 1
    [line] = handler.written
    assert line["level"] == "warning"
    assert line["message"] == "socket.accept() out of system resource: Too many open files"
    assert line["errno"] == "EMFILE"
    assert "exception" not in line


def test_other_event_loop_errors_keep_their_traceback(lines: tuple[Lines, RepeatedLines]) -> None:
    handler, _repeats = lines
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(log_loop_error)
        try:
            raise RuntimeError("a bug")
        except RuntimeError as error:
            loop.call_exception_handler({"message": "Task exception was never retrieved", "exception": error})
    finally:
        loop.close()

    [line] = handler.written
    assert line["level"] == "error"
    assert "RuntimeError: a bug" in str(line["exception"])


@pytest.mark.parametrize(
    ("query", "written"),
    [
        ("n=10&last=a", "n=10&last=a"),
        ("grant=eyJhIjoxfQ.c2ln", "grant=HIDDEN"),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fsts%2Faws4_request"
            "&X-Amz-Security-Token=FQoGZXIvYXdzE&X-Amz-Signature=5d672d79",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE/20260101/us-east-1/sts/aws4_request"
            "&X-Amz-Security-Token=HIDDEN&X-Amz-Signature=HIDDEN",
        ),
    ],
)
def test_the_access_log_hides_credentials_in_query_strings(query: str, written: str) -> None:
    assert loggable_query(query) == written


@pytest.mark.parametrize(
    ("query", "path", "written"),
    [
        (
            "Action=CreateLoginProfile&Version=2010-05-08&UserName=ana&Password=Secret-1",
            "/",
            "Action=CreateLoginProfile&Version=2010-05-08",
        ),
        (
            "Action=AssumeRoleWithWebIdentity&WebIdentityToken=eyJ.x.y&Version=2011-06-15",
            "/",
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15",
        ),
        ("", "/", ""),
        ("n=1&Password=Secret-1&oldPassword=a", "/v2/_catalog", "n=1&Password=HIDDEN&oldPassword=HIDDEN"),
    ],
)
def test_the_access_log_keeps_only_the_call_of_an_aws_query_string(query: str, path: str, written: str) -> None:
    assert loggable_query(query, path) == written
