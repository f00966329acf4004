"""The judgements of `pullcache doctor` on fixed facts: clock skew from a fixed Date header, free space, certificate
expiry, plain HTTP by host, and what a /readyz body says is failing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pullcache.cli import main
from pullcache.doctor import (
    Answer,
    CheckResult,
    Status,
    check_tls,
    clock_result,
    disk_result,
    expiry_result,
    readiness_result,
)

DATE: str = "Mon, 07 Dec 2026 19:00:00 GMT"
SERVER_TIME: datetime = datetime(2026, 12, 7, 19, 0, 0, tzinfo=UTC)
GIB: int = 1 << 30


def answer(local_time: datetime, headers: dict[str, str] | None = None, status: int = 200, body: bytes = b"") -> Answer:
    """An answer sent and received at `local_time` by this machine's clock."""
    return Answer("http://127.0.0.1:5000/healthz", status, headers or {}, body, None, local_time, local_time)


@pytest.mark.parametrize(
    ("local_offset", "status", "reason"),
    [
        (0.5, Status.OK, "within a second"),
        (-30, Status.OK, "the server's clock is 30 s ahead of this machine's"),
        (61.5, Status.WARN, "the server's clock is 61 s behind this machine's; set both from NTP"),
        (-120, Status.WARN, "the server's clock is 120 s ahead of this machine's; set both from NTP"),
        (300.5, Status.WARN, "the server's clock is 300 s behind this machine's; set both from NTP"),
        (
            301.5,
            Status.FAIL,
            "the server's clock is 301 s behind this machine's; SigV4 refuses requests signed 15 min off",
        ),
        (
            -1000,
            Status.FAIL,
            "the server's clock is 1000 s ahead of this machine's; SigV4 refuses requests signed 15 min off",
        ),
    ],
)
def test_clock_skew_from_a_fixed_date_header(local_offset: float, status: Status, reason: str) -> None:
    local = SERVER_TIME + timedelta(seconds=local_offset)

    assert clock_result(answer(local, {"Date": DATE})) == CheckResult("clock", status, reason)


@pytest.mark.parametrize(
    ("sent", "received", "status"),
    [(0, 100, Status.OK), (40, 83, Status.WARN)],  # middles 50 s and 61.5 s after the server's time
)
def test_this_machines_time_is_taken_at_the_middle_of_the_request(sent: int, received: int, status: Status) -> None:
    slow = Answer(
        "http://127.0.0.1:5000/healthz",
        200,
        {"date": DATE},
        b"",
        None,
        SERVER_TIME + timedelta(seconds=sent),
        SERVER_TIME + timedelta(seconds=received),
    )

    assert clock_result(slow).status is status


@pytest.mark.parametrize("date", [None, "yesterday", "Mon, 07 Dec 2026 19:00:00"])
def test_a_missing_or_unusable_date_is_a_warning_not_a_failure(date: str | None) -> None:
    headers = {} if date is None else {"Date": date}

    result = clock_result(answer(SERVER_TIME, headers))

    assert result.status is Status.WARN
    assert result.reason.startswith("not checked: no usable Date header")


def test_no_answer_fails_the_clock_check() -> None:
    silent = Answer("u", None, {}, b"", "no answer from u: refused", SERVER_TIME, SERVER_TIME)

    assert clock_result(silent) == CheckResult("clock", Status.FAIL, "not checked: the server did not answer")


@pytest.mark.parametrize(
    ("total", "free", "status"),
    [
        (100 * GIB, 50 * GIB, Status.OK),
        (100 * GIB, 10 * GIB, Status.OK),
        (100 * GIB, 9 * GIB, Status.WARN),
        (100 * GIB, GIB - 1, Status.FAIL),
        (2 * GIB, GIB, Status.OK),  # half a small disk is room enough
        (2 * GIB, GIB // 2, Status.FAIL),  # a quarter is not: under the floor
        (0, 0, Status.FAIL),
    ],
)
def test_free_space_warns_under_a_tenth_and_fails_under_a_gibibyte(total: int, free: int, status: Status) -> None:
    assert disk_result(total, free).status is status


def test_free_space_says_how_much() -> None:
    assert disk_result(100 * GIB, 9 * GIB).reason == "9.0 GiB free of 100.0 GiB (9%): under 10%"


@pytest.mark.parametrize(
    ("days_left", "status"), [(90, Status.OK), (14, Status.OK), (13, Status.WARN), (0.5, Status.WARN)]
)
def test_a_certificate_warns_within_two_weeks_of_expiry(days_left: float, status: Status) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    result = expiry_result(now + timedelta(days=days_left), now)

    assert result.status is status
    assert f"in {int(days_left)} days" in result.reason


def test_an_expired_certificate_fails() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    assert expiry_result(now - timedelta(hours=1), now) == CheckResult(
        "tls", Status.FAIL, "the certificate expired 2026-12-07 11:00 UTC"
    )


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("http://127.0.0.1:5000", Status.OK),
        ("http://localhost:5000", Status.OK),
        ("http://[::1]:5000", Status.OK),
        ("http://10.0.0.5:5000", Status.WARN),
        ("http://registry.example:5000", Status.WARN),
    ],
)
def test_plain_http_is_a_warning_off_loopback(endpoint: str, status: Status) -> None:
    result = check_tls(endpoint, SERVER_TIME)

    assert result.status is status
    assert result.reason.startswith("plain HTTP")


def test_not_ready_names_each_failing_check_and_its_reason() -> None:
    body = json.dumps({"status": "not ready", "checks": {"database": "no answer within 5 s", "blob store": "ok"}})

    result = readiness_result(answer(SERVER_TIME, status=503, body=body.encode()))

    assert result == CheckResult("readiness", Status.FAIL, "/readyz answered 503: database: no answer within 5 s")


def test_a_not_ready_body_that_is_not_json_is_printed_as_it_came() -> None:
    result = readiness_result(answer(SERVER_TIME, status=502, body=b"Bad Gateway\n"))

    assert result == CheckResult("readiness", Status.FAIL, "/readyz answered 502: Bad Gateway")


def test_a_malformed_endpoint_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", "--endpoint", "localhost:5000"])

    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "pullcache doctor: 'localhost:5000' is not an endpoint URL like http://127.0.0.1:5000 "
        "(see pullcache doctor --help)\n"
    )
