"""HTTPS on the API's port, with real clients: skopeo pushes and pulls, boto3 and the aws CLI call ECR, and
`pullcache doctor` checks the server, each trusting the local CA of --tls self-signed; clients that do not trust it,
an expired certificate and one for other names are refused; SIGHUP serves new connections a replaced certificate
while a connection opened before goes on, and a bad replacement keeps the old one; two workers reload alike; starts
that cannot happen stop with one line; a server beyond loopback without TLS warns."""

from __future__ import annotations

import base64
import configparser
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import boto3
import botocore.exceptions
import pytest

from pullcache.tls import CertificateFiles, check_files
from pullcache.tls.certificates import ensure_self_signed
from testkit.aws_clients import aws_cli, cli_environment, client, root_keys
from testkit.images import OCI, OciLayout, write_image
from testkit.servers import PullcacheServer, free_port
from tests.integration import skopeo

RELOAD_WITHIN: Final = 20.0  # seconds
REFUSAL_WITHIN: Final = 60.0
LOOPBACK: Final = ("localhost", "127.0.0.1")


@dataclass(frozen=True, slots=True)
class OwnCa:
    """A CA of the test's own and server certificates it issued, as an operator brings them to --tls-cert."""

    ca: Path

    def issue(
        self, directory: Path, names: tuple[str, ...] = LOOPBACK, issued_at: datetime | None = None
    ) -> CertificateFiles:
        """A new certificate for `names` valid for a year from `issued_at` (default now), copied out to
        `directory`."""
        (self.ca.parent / "server.pem").unlink(missing_ok=True)  # else the last one issued would do
        made = ensure_self_signed(self.ca.parent, names, issued_at or datetime.now(UTC))
        directory.mkdir(parents=True)
        files = CertificateFiles(directory / "server.pem", directory / "server-key.pem")
        shutil.copyfile(made.server.certificate, files.certificate)
        shutil.copyfile(made.server.key, files.key)
        return files


@pytest.fixture
def test_ca(tmp_path: Path) -> OwnCa:
    # The CA is made as of two years ago, so that it can issue a certificate that has already expired.
    made = ensure_self_signed(tmp_path / "test-ca", ("ca.test",), datetime.now(UTC) - timedelta(days=730))
    return OwnCa(made.ca)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """One server with --tls self-signed for the module's client tests; /v2/ asks for credentials."""
    started = PullcacheServer(
        tmp_path_factory.mktemp("tls") / "data", tls_self_signed=True, anonymous_registry=False
    ).start()
    yield started
    started.stop()


def served_fingerprint(port: int) -> str:
    """The SHA-256 of the certificate a new connection to `port` is served (not verified)."""
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=10)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def eventually(check: Callable[[], bool], within: float = RELOAD_WITHIN) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def verifying(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def handshake_error(port: int, ca: Path, name: str = "127.0.0.1") -> ssl.SSLCertVerificationError:
    """The verification error of a TLS client trusting `ca` that connects to `name`:`port`."""
    with (
        pytest.raises(ssl.SSLCertVerificationError) as raised,
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        verifying(ca).wrap_socket(raw, server_hostname=name),
    ):
        pass
    return raised.value


def docker_login(server: PullcacheServer) -> str:
    """skopeo's --creds for the root user: AWS and the token of GetAuthorizationToken."""
    token = client(server, "ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode()


# --- clients that trust the local CA ---


def test_the_aws_config_written_names_the_https_endpoint_and_the_local_ca(server: PullcacheServer) -> None:
    config = configparser.ConfigParser()
    config.read(server.data_dir / "config")

    assert config["default"]["endpoint_url"] == f"https://127.0.0.1:{server.port}"
    assert config["default"]["ca_bundle"] == str((server.data_dir / "tls" / "ca.pem").resolve())


def test_skopeo_pushes_and_pulls_with_the_ca_in_its_cert_dir(server: PullcacheServer, tmp_path: Path) -> None:
    source = OciLayout(tmp_path / "source")
    tree = write_image(source, "v1", (1024, 4096), seed=7, media_types=OCI)
    cert_dir = server.data_dir / "tls" / "cert-dir"
    creds = docker_login(server)
    remote = skopeo.docker_reference(server.address, "tls/skopeo", "v1")

    skopeo.run(
        "copy", "--quiet", f"--dest-cert-dir={cert_dir}", f"--dest-creds={creds}", source.reference("v1"), remote
    )
    pulled = OciLayout(tmp_path / "pulled")
    skopeo.run("copy", "--quiet", f"--src-cert-dir={cert_dir}", f"--src-creds={creds}", remote, pulled.reference("v1"))

    assert pulled.read_tree("v1") == tree


def test_warm_pulls_over_https_with_the_ca_bundle_of_the_written_config(
    server: PullcacheServer, tmp_path: Path
) -> None:
    source = OciLayout(tmp_path / "source")
    write_image(source, "v1", (2048,), seed=11, media_types=OCI)
    cert_dir = server.data_dir / "tls" / "cert-dir"
    remote = skopeo.docker_reference(server.address, "tls/warm", "v1")
    skopeo.run(
        "copy",
        "--quiet",
        f"--dest-cert-dir={cert_dir}",
        f"--dest-creds={docker_login(server)}",
        source.reference("v1"),
        remote,
    )

    done = subprocess.run(
        [sys.executable, "-m", "pullcache", "warm", f"{server.address}/tls/warm:v1"],
        env=cli_environment(server),  # the written files and no other AWS setting
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "warmed: 1 of 1" in done.stdout


def test_skopeo_without_the_ca_is_refused(server: PullcacheServer) -> None:
    with pytest.raises(skopeo.SkopeoFailed, match="certificate signed by unknown authority"):
        skopeo.run(
            "inspect", f"--creds={docker_login(server)}", skopeo.docker_reference(server.address, "tls/none", "v1")
        )


def test_boto3_trusting_the_ca_creates_and_describes_a_repository(server: PullcacheServer) -> None:
    ecr = client(server, "ecr")  # verify: the server's ca.pem

    created = ecr.create_repository(repositoryName="tls/boto3")["repository"]
    described = ecr.describe_repositories(repositoryNames=["tls/boto3"])["repositories"]

    assert [repository["repositoryUri"] for repository in described] == [created["repositoryUri"]]
    assert created["repositoryUri"] == f"127.0.0.1:{server.port}/tls/boto3"
    token = ecr.get_authorization_token()["authorizationData"][0]
    assert token["proxyEndpoint"] == f"https://127.0.0.1:{server.port}"


def test_boto3_with_the_system_cas_is_refused(server: PullcacheServer) -> None:
    key_id, secret = root_keys(server)
    ecr = boto3.client(
        "ecr",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        verify=ssl.get_default_verify_paths().openssl_cafile,
    )

    with pytest.raises(botocore.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        ecr.describe_repositories()


def test_the_aws_cli_creates_and_describes_a_repository_with_the_written_config(server: PullcacheServer) -> None:
    created = aws_cli(server, "ecr", "create-repository", "--repository-name", "tls/cli")
    described = aws_cli(server, "ecr", "describe-repositories", "--repository-names", "tls/cli")

    assert created.returncode == 0, created.stderr
    assert described.returncode == 0, described.stderr
    [repository] = json.loads(described.stdout)["repositories"]
    assert repository["repositoryName"] == "tls/cli"


def test_the_aws_cli_without_the_ca_is_refused_and_with_ca_bundle_gets_in(
    server: PullcacheServer, tmp_path: Path
) -> None:
    config = configparser.ConfigParser()
    config.read(server.data_dir / "config")
    config.remove_option("default", "ca_bundle")
    without = tmp_path / "config"
    with without.open("w") as file:
        config.write(file)
    environment = cli_environment(server) | {"AWS_CONFIG_FILE": str(without)}
    aws = [str(Path(sys.executable).with_name("aws")), "ecr", "describe-repositories", "--output", "json"]

    refused = subprocess.run(aws, env=environment, capture_output=True, text=True, timeout=60, check=False)
    trusted = subprocess.run(
        [*aws, "--ca-bundle", str(server.data_dir / "tls" / "ca.pem")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert refused.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert trusted.returncode == 0, trusted.stderr


def test_the_registry_challenge_names_an_https_realm(server: PullcacheServer) -> None:
    request = urllib.request.Request(f"{server.url}/v2/")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10, context=verifying(server.data_dir / "tls" / "ca.pem"))

    refused.value.close()
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"] == (
        f'Basic realm="https://127.0.0.1:{server.port}/",service="ecr.amazonaws.com"'
    )


def test_doctor_passes_every_check_against_the_https_port(server: PullcacheServer, tmp_path: Path) -> None:
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PULLCACHE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pullcache", "doctor", "--data-dir", str(server.data_dir)],
        env=clean | {"HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout
    lines = {line.split()[1]: line for line in done.stdout.splitlines()}
    assert lines["health"].startswith(f"OK   health      https://127.0.0.1:{server.port}/healthz answered 200")
    assert lines["tls"].startswith("OK   tls         the certificate verifies and expires")
    assert lines["credentials"].endswith("is arn:aws:iam::000000000000:root")


def test_the_start_prints_how_to_trust_the_ca(server: PullcacheServer) -> None:
    log = server.log()
    ca = (server.data_dir / "tls" / "ca.pem").resolve()

    assert f"/etc/docker/certs.d/127.0.0.1:{server.port}/ca.crt" in log
    assert f'ca = "{ca}"' in log  # containerd's hosts.toml
    assert f"--cert-dir {(server.data_dir / 'tls' / 'cert-dir').resolve()}" in log
    assert f"AWS_CA_BUNDLE={ca}" in log


# --- certificates a client refuses ---


def test_an_expired_certificate_is_refused_by_clients(test_ca: OwnCa, tmp_path: Path) -> None:
    expired = test_ca.issue(tmp_path / "expired", issued_at=datetime.now(UTC) - timedelta(days=400))
    server = PullcacheServer(
        tmp_path / "data", tls_files=(expired.certificate, expired.key), tls_ca=test_ca.ca, create_on_push=False
    ).start()
    try:
        error = handshake_error(server.port, test_ca.ca)
        with pytest.raises(botocore.exceptions.SSLError, match="certificate has expired"):
            client(server, "ecr").describe_repositories()
    finally:
        server.stop()

    assert error.verify_message == "certificate has expired"
    assert "the TLS certificate has expired" in server.log()


def test_a_certificate_for_other_names_is_refused(test_ca: OwnCa, tmp_path: Path) -> None:
    elsewhere = test_ca.issue(tmp_path / "elsewhere", names=("elsewhere.example",))
    server = PullcacheServer(
        tmp_path / "data", tls_files=(elsewhere.certificate, elsewhere.key), tls_ca=test_ca.ca, create_on_push=False
    ).start()
    try:
        error = handshake_error(server.port, test_ca.ca)
    finally:
        server.stop()

    assert "mismatch" in error.verify_message


# --- SIGHUP ---


def test_sighup_serves_new_connections_the_new_certificate_and_keeps_open_ones(test_ca: OwnCa, tmp_path: Path) -> None:
    first = test_ca.issue(tmp_path / "first")
    second = test_ca.issue(tmp_path / "second", names=(*LOOPBACK, "second.test"))
    live = CertificateFiles(tmp_path / "live.pem", tmp_path / "live-key.pem")
    shutil.copyfile(first.certificate, live.certificate)
    shutil.copyfile(first.key, live.key)
    server = PullcacheServer(
        tmp_path / "data", tls_files=(live.certificate, live.key), tls_ca=test_ca.ca, log_level="info"
    ).start()
    try:
        kept = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=verifying(test_ca.ca))
        kept.request("GET", "/healthz")
        assert kept.getresponse().read() == b'{"status": "alive"}'
        kept_socket = kept.sock
        assert served_fingerprint(server.port) == check_files(first).sha256

        shutil.copyfile(second.certificate, live.certificate)
        shutil.copyfile(second.key, live.key)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGHUP)
        eventually(lambda: served_fingerprint(server.port) == check_files(second).sha256)

        kept.request("GET", "/healthz")  # the connection opened before the reload goes on
        assert kept.getresponse().read() == b'{"status": "alive"}'
        assert kept.sock is kept_socket
        assert isinstance(kept_socket, ssl.SSLSocket)
        assert hashlib.sha256(kept_socket.getpeercert(binary_form=True) or b"").hexdigest() == check_files(first).sha256
        kept.close()
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10, context=verifying(test_ca.ca)) as reply:
            assert reply.status == 200  # the new certificate verifies too
    finally:
        server.stop()

    assert "reloaded the TLS certificate" in server.log()


def test_a_bad_replacement_keeps_the_old_certificate_serving(test_ca: OwnCa, tmp_path: Path) -> None:
    first = test_ca.issue(tmp_path / "first")
    other = test_ca.issue(tmp_path / "other", names=("other.test",))
    live = CertificateFiles(tmp_path / "live.pem", tmp_path / "live-key.pem")
    shutil.copyfile(first.certificate, live.certificate)
    shutil.copyfile(first.key, live.key)
    server = PullcacheServer(tmp_path / "data", tls_files=(live.certificate, live.key), tls_ca=test_ca.ca).start()
    try:
        shutil.copyfile(other.key, live.key)  # the key of another certificate
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGHUP)
        eventually(lambda: "kept the TLS certificate serving" in server.log())

        assert served_fingerprint(server.port) == check_files(first).sha256
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10, context=verifying(test_ca.ca)) as reply:
            assert reply.status == 200
    finally:
        server.stop()

    [warning] = [json.loads(line) for line in server.log().splitlines() if "kept the TLS certificate" in line]
    assert "does not hold the key of the certificate" in warning["reason"]


@pytest.mark.slow
def test_two_workers_serve_tls_and_both_reload_on_the_masters_sighup(test_ca: OwnCa, tmp_path: Path) -> None:
    first = test_ca.issue(tmp_path / "first")
    second = test_ca.issue(tmp_path / "second", names=(*LOOPBACK, "second.test"))
    live = CertificateFiles(tmp_path / "live.pem", tmp_path / "live-key.pem")
    shutil.copyfile(first.certificate, live.certificate)
    shutil.copyfile(first.key, live.key)
    server = PullcacheServer(
        tmp_path / "data", workers=2, tls_files=(live.certificate, live.key), tls_ca=test_ca.ca, log_level="info"
    ).start()
    try:
        eventually(lambda: server.log().count('"message": "listening"') == 2)
        for _ in range(10):
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=10, context=verifying(test_ca.ca)) as reply:
                assert reply.status == 200
        shutil.copyfile(second.certificate, live.certificate)
        shutil.copyfile(second.key, live.key)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGHUP)
        eventually(lambda: server.log().count("reloaded the TLS certificate") == 2)

        fingerprints = {served_fingerprint(server.port) for _ in range(20)}  # connections land on either worker
    finally:
        server.stop()

    assert fingerprints == {check_files(second).sha256}
    reloads = [json.loads(line) for line in server.log().splitlines() if "reloaded the TLS certificate" in line]
    assert len({line["pid"] for line in reloads}) == 2


# --- start-up ---


def refused_start(data_dir: Path, *arguments: str) -> str:
    """The one line `pullcache serve ARGUMENTS` stops with; fails the test on a start or a traceback."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pullcache",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(data_dir),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=REFUSAL_WITHIN,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("certificate without key", "give both the TLS certificate file and its key file, or neither"),
        ("unreadable certificate", "pullcache serve: cannot read the certificate file {missing}: No such file"),
        ("key of another certificate", "pullcache serve: the key file {other_key} does not hold the key of"),
        ("not a certificate", "pullcache serve: the certificate file {key} holds no PEM certificate"),
        ("both ways", "give either a TLS certificate and key or --tls self-signed, not both"),
        ("unknown mode", "--tls is off or self-signed, not 'on'"),
        ("bad name", "TLS names: 'no such name' is neither an IP address nor a DNS name"),
    ],
)
def test_tls_settings_that_cannot_serve_stop_the_start_with_one_line_before_anything_is_written(
    test_ca: OwnCa, tmp_path: Path, case: str, expected: str
) -> None:
    pair = test_ca.issue(tmp_path / "pair")
    other = test_ca.issue(tmp_path / "other")
    missing = tmp_path / "missing.pem"
    arguments: dict[str, tuple[str, ...]] = {
        "certificate without key": ("--tls-cert", str(pair.certificate)),
        "unreadable certificate": ("--tls-cert", str(missing), "--tls-key", str(pair.key)),
        "key of another certificate": ("--tls-cert", str(pair.certificate), "--tls-key", str(other.key)),
        "not a certificate": ("--tls-cert", str(pair.key), "--tls-key", str(pair.key)),
        "both ways": ("--tls", "self-signed", "--tls-cert", str(pair.certificate), "--tls-key", str(pair.key)),
        "unknown mode": ("--tls", "on"),
        "bad name": ("--tls", "self-signed", "--tls-names", "localhost,no such name"),
    }
    data_dir = tmp_path / "data"

    line = refused_start(data_dir, *arguments[case])

    assert expected.format(missing=missing, other_key=other.key, key=pair.key) in line
    assert not data_dir.exists()


def test_self_signed_names_given_are_those_of_the_certificate(tmp_path: Path) -> None:
    server = PullcacheServer(
        tmp_path / "data", tls_self_signed=True, extra_args=("--tls-names", "127.0.0.1, registry.test")
    ).start()
    try:
        with urllib.request.urlopen(
            f"{server.url}/healthz", timeout=10, context=verifying(server.data_dir / "tls" / "ca.pem")
        ):
            pass
        error = handshake_error(server.port, server.data_dir / "tls" / "ca.pem", "localhost")
    finally:
        server.stop()

    assert "mismatch" in error.verify_message


def warning_lines(server: PullcacheServer) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry["level"] == "warning"]


def test_a_server_beyond_loopback_without_tls_warns_at_start(tmp_path: Path) -> None:
    plain = PullcacheServer(tmp_path / "plain", extra_args=("--host", "0.0.0.0")).start()
    plain.stop()
    secure = PullcacheServer(tmp_path / "secure", tls_self_signed=True, extra_args=("--host", "0.0.0.0")).start()
    secure.stop()
    loopback = PullcacheServer(tmp_path / "loopback").start()
    loopback.stop()

    [warning] = [line for line in warning_lines(plain) if "plain HTTP" in line["message"]]
    assert warning["message"].startswith("serving plain HTTP beyond loopback")
    assert warning["host"] == "0.0.0.0"
    assert not [line for line in warning_lines(secure) if "plain HTTP" in line["message"]]
    assert not [line for line in warning_lines(loopback) if "plain HTTP" in line["message"]]
