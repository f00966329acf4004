"""`pullcache doctor` run as a user runs it, against a real server: every check OK on a healthy one, FAIL in one
line per check with exit 1 on a stopped one, the reason /readyz gives when the server is not ready, refused
credentials, and TLS through a terminating front whose certificate verifies (its expiry printed) or does not."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest

from pullcache.doctor import disk_result
from testkit.servers import PullcacheServer
from tests.integration.tls_front import TlsFront, self_signed_certificate
from tests.tmpfs import mounted_tmpfs

TIMEOUT: Final = 120
LINE: Final = re.compile(r"(OK|WARN|FAIL) +(\w+) +(\S.*)")
CHECKS: Final = ["health", "readiness", "clock", "tls", "disk", "credentials"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    started = PullcacheServer(tmp_path / "data", anonymous_registry=False, create_on_push=False).start()
    yield started
    started.stop()


def doctor(
    home: Path, *arguments: str, environment: dict[str, str] | None = None
) -> tuple[int, dict[str, tuple[str, str]]]:
    """Run `pullcache doctor` with a home and an environment of its own (no AWS_* or PULLCACHE_* variables, no
    ~/.aws); its exit code and each line as {check: (status, reason)}. Fails the test on anything but such
    lines on stdout, or anything on stderr."""
    home.mkdir(exist_ok=True)
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PULLCACHE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pullcache", "doctor", *arguments],
        env=clean | {"HOME": str(home)} | (environment or {}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.stderr == ""
    lines = [LINE.fullmatch(line) for line in done.stdout.splitlines()]
    assert all(lines), done.stdout
    results = {match.group(2): (match.group(1), match.group(3)) for match in lines if match}
    assert len(results) == len(lines), done.stdout  # one line per check
    return done.returncode, results


def test_a_healthy_server_passes_every_check(server: PullcacheServer, tmp_path: Path) -> None:
    code, results = doctor(tmp_path / "home", "--data-dir", str(server.data_dir))

    usage = shutil.disk_usage(server.data_dir)
    assert code == 0
    assert list(results) == CHECKS
    assert results["disk"][0] == disk_result(usage.total, usage.free).status.value  # the machine's own disk
    assert {name: status for name, (status, _) in results.items() if name != "disk"} == dict.fromkeys(
        ["health", "readiness", "clock", "tls", "credentials"], "OK"
    )
    assert results["health"][1] == f"{server.url}/healthz answered 200"  # the endpoint of <data-dir>/config
    assert results["credentials"][1].endswith("is arn:aws:iam::000000000000:root")


def test_a_stopped_server_fails_in_one_line_per_check_and_exits_1(server: PullcacheServer, tmp_path: Path) -> None:
    server.stop()

    code, results = doctor(tmp_path / "home", "--data-dir", str(server.data_dir))

    assert code == 1
    assert list(results) == CHECKS
    for name in ("health", "readiness", "clock", "credentials"):
        assert results[name][0] == "FAIL", results[name]
    assert results["health"][1].startswith(f"no answer from {server.url}/healthz: ")
    assert results["tls"] == ("OK", "plain HTTP, on loopback")


def test_a_server_that_is_not_ready_fails_readiness_with_its_reason(server: PullcacheServer, tmp_path: Path) -> None:
    database = sqlite3.connect(server.data_dir / "metadata.db")
    try:
        [(current,)] = database.execute("SELECT version_num FROM alembic_version").fetchall()
        with database:
            database.execute("UPDATE alembic_version SET version_num = '0001'")

        code, results = doctor(tmp_path / "home", "--data-dir", str(server.data_dir))

        with database:
            database.execute("UPDATE alembic_version SET version_num = ?", (current,))
    finally:
        database.close()

    assert code == 1
    assert results["health"][0] == "OK"
    assert results["readiness"] == (
        "FAIL",
        f"/readyz answered 503: database: the schema is at revision 0001, not {current}: migrations have not run",
    )


def test_credentials_the_server_refuses_fail_naming_the_key(server: PullcacheServer, tmp_path: Path) -> None:
    credentials = server.data_dir / "credentials"
    written = credentials.read_text()
    key_id = re.search(r"aws_access_key_id = (\S+)", written)
    assert key_id is not None
    credentials.write_text(re.sub(r"aws_secret_access_key = \S+", "aws_secret_access_key = not-the-secret", written))

    code, results = doctor(tmp_path / "home", "--data-dir", str(server.data_dir))

    assert code == 1
    assert results["credentials"][0] == "FAIL"
    assert results["credentials"][1].startswith(f"{key_id.group(1)} ({credentials}) refused: SignatureDoesNotMatch")


def test_without_a_data_dir_the_endpoint_given_is_checked_and_credentials_are_not(
    server: PullcacheServer, tmp_path: Path
) -> None:
    code, results = doctor(tmp_path / "home", "--endpoint", server.url)

    assert code == 0
    assert list(results) == ["health", "readiness", "clock", "tls", "credentials"]
    assert results["credentials"] == ("WARN", "not checked: none found (give --data-dir)")


def test_the_credentials_the_aws_tools_would_use_are_checked_without_a_data_dir(
    server: PullcacheServer, tmp_path: Path
) -> None:
    files = {
        "AWS_SHARED_CREDENTIALS_FILE": str(server.data_dir / "credentials"),
        "AWS_CONFIG_FILE": str(server.data_dir / "config"),
    }

    code, results = doctor(tmp_path / "home", "--endpoint", server.url, environment=files)

    assert code == 0
    assert results["credentials"][0] == "OK"
    assert results["credentials"][1].endswith("(from shared-credentials-file) is arn:aws:iam::000000000000:root")


def test_https_through_a_front_whose_certificate_verifies_prints_its_expiry(
    server: PullcacheServer, tmp_path: Path
) -> None:
    certificate = self_signed_certificate(tmp_path / "tls", timedelta(days=10))
    front = TlsFront(server.port, certificate).start()
    trusted = {"SSL_CERT_FILE": str(certificate.certificate), "AWS_CA_BUNDLE": str(certificate.certificate)}
    try:
        code, results = doctor(
            tmp_path / "home",
            "--endpoint",
            f"https://localhost:{front.port}",
            "--data-dir",
            str(server.data_dir),
            environment=trusted,
        )
    finally:
        front.stop()

    assert code == 0
    assert results["health"] == ("OK", f"https://localhost:{front.port}/healthz answered 200")
    assert results["tls"][0] == "WARN"
    assert re.fullmatch(r"the certificate verifies and expires \S+ \S+ UTC, in 9 days", results["tls"][1])
    assert results["credentials"][0] == "OK"


def test_https_whose_certificate_does_not_verify_fails(server: PullcacheServer, tmp_path: Path) -> None:
    certificate = self_signed_certificate(tmp_path / "tls", timedelta(days=90))
    front = TlsFront(server.port, certificate).start()
    try:
        code, results = doctor(tmp_path / "home", "--endpoint", f"https://localhost:{front.port}")
    finally:
        front.stop()

    assert code == 1
    assert results["tls"] == (
        "FAIL",
        f"the certificate of localhost:{front.port} does not verify: self-signed certificate",
    )
    assert results["health"][0] == "FAIL"


def test_a_data_dir_on_a_small_filesystem_fails_the_disk_check(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "small", 64 << 20) as small:
        server = PullcacheServer(small / "data", anonymous_registry=False, create_on_push=False).start()
        try:
            code, results = doctor(tmp_path / "home", "--data-dir", str(server.data_dir))
        finally:
            server.stop()

    assert code == 1
    assert results["disk"][0] == "FAIL"
    assert re.fullmatch(
        r"0\.\d GiB free of 0\.1 GiB \(\d+%\): under 1 GiB, a large layer will not fit", results["disk"][1]
    )
    assert results["readiness"][0] == "OK"  # the server itself still serves
