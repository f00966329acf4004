"""Real servers on loopback for the tests and the benchmark: pullcache itself and CNCF Distribution (Debian's
docker-registry), and the process plumbing other helper servers share (a free port, waiting, stopping).

Each runs as a separate process group on a free port and is stopped by whoever started it (a fixture, a round of
the benchmark).
"""

from __future__ import annotations

import configparser
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

START_TIMEOUT = 90.0  # seconds: a loaded machine (CI, parallel suites) can take long to start a server
# The prefix of the repository creation template that covers every repository (ECR's "ROOT").
ROOT_PREFIX = "ROOT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> None:
    """Return once `url` answers anything; an https URL's certificate is not checked (tests check it)."""
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=1, context=context):
                return
        except urllib.error.HTTPError as answered:
            answered.close()  # its connection, else left to the garbage collector
            return  # it answers: serving
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing served {url} within {timeout} s")


def start_daemon(
    name: str,
    command: Sequence[str],
    log_path: Path,
    ready: Callable[[], bool],
    environment: Mapping[str, str] | None = None,
    step: float = 0.05,
) -> subprocess.Popen[bytes]:
    """Start a daemon in a process group of its own, its output appended to `log_path`, and wait (at most
    START_TIMEOUT) until `ready()` says it serves; a daemon that exits or does not serve in time is stopped and the
    error carries its log's end."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environment
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{_tail(log_path)}")
            if ready():
                return process
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not serve within {START_TIMEOUT} s:\n{_tail(log_path)}")
            time.sleep(step)
    except BaseException:
        stop_process_group(process)
        raise


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""


def stop_process_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Signal the process's group (it was started with start_new_session), then SIGKILL it after `timeout`."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


@dataclass
class PullcacheServer:
    """`pullcache serve` in a child process over its own data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    workers: int = 1
    log_level: str = "warning"  # "info" writes the JSON access log, a line a request
    extra_args: Sequence[str] = ()
    # What the interpreter runs: the package, or a script that prepares the process and calls pullcache.cli.main.
    launcher: Sequence[str] = ("-m", "pullcache")
    environment: Mapping[str, str] = field(default_factory=dict)  # added to the test's own environment
    # --anonymous-registry: /v2/ without credentials acts as the account's root user. For tests of the OCI protocol
    # alone (which say so where they start a server), and the default for users of this harness that predate
    # authentication (the benchmark). Tests of authentication and authorization pass False and log in (see
    # aws_clients.py).
    anonymous_registry: bool = True
    # Right after start, a repository creation template for ROOT applied for CREATE_ON_PUSH (created with the root
    # key, as the README's conformance run does): a push to a repository that does not exist creates it, as users
    # of this harness that push to fresh repositories expect. Tests of ECR's refusal of such pushes pass False.
    create_on_push: bool = True
    # The child's limit of open files, soft and hard alike (so that serve's raise to the hard limit keeps it).
    open_file_limit: int | None = None
    # HTTPS: `tls_self_signed` (--tls self-signed: the server's local CA, ca_file, issues its certificate), or
    # `tls_files`, the (certificate, key) of --tls-cert/--tls-key, with `tls_ca` the CA that signed them.
    tls_self_signed: bool = False
    tls_files: tuple[Path, Path] | None = None
    tls_ca: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def secure(self) -> bool:
        return self.tls_self_signed or self.tls_files is not None

    @property
    def ca_file(self) -> Path | None:
        """The CA a client trusts the server with (None: plain HTTP, or a CA the test did not name)."""
        return self.data_dir / "tls" / "ca.pem" if self.tls_self_signed else self.tls_ca

    @property
    def url(self) -> str:
        return f"{'https' if self.secure else 'http'}://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """host:port, as skopeo names a registry."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> PullcacheServer:
        self.log_path = self.data_dir.parent / f"pullcache-{self.port}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                *self.launcher,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--workers",
                str(self.workers),
                "--log-level",
                self.log_level,
                *(["--anonymous-registry"] if self.anonymous_registry else []),
                *(["--tls", "self-signed"] if self.tls_self_signed else []),
                *(
                    ["--tls-cert", str(self.tls_files[0]), "--tls-key", str(self.tls_files[1])]
                    if self.tls_files
                    else []
                ),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **self.environment},
            preexec_fn=None if self.open_file_limit is None else _limit_open_files(self.open_file_limit),
        )
        log.close()
        try:
            wait_until_serving(f"{self.url}/v2/", self.process)
            if self.create_on_push:
                self._allow_create_on_push()
        except BaseException:
            stop_process_group(self.process)  # a server that did not come up is not left running
            raise
        return self

    def _allow_create_on_push(self) -> None:
        """The ROOT CREATE_ON_PUSH template, in the account and region of the files the server wrote on first
        start; one kept from an earlier start over the same data dir stays."""
        credentials, config = configparser.ConfigParser(), configparser.ConfigParser()
        credentials.read(self.data_dir / "credentials")
        config.read(self.data_dir / "config")
        ecr = boto3.client(
            "ecr",
            endpoint_url=self.url,
            region_name=config["default"]["region"],
            aws_access_key_id=credentials["default"]["aws_access_key_id"],
            aws_secret_access_key=credentials["default"]["aws_secret_access_key"],
            verify=str(self.ca_file) if self.ca_file is not None else None,
        )
        try:
            ecr.create_repository_creation_template(prefix=ROOT_PREFIX, appliedFor=["CREATE_ON_PUSH"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TemplateAlreadyExistsException":
                raise

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.process is not None
        return stop_process_group(self.process, sig, timeout)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""


def _limit_open_files(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


def distribution_binary() -> str | None:
    return shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )


@dataclass
class DistributionServer:
    """CNCF Distribution 2.8 (Debian's docker-registry) with filesystem storage and deletes enabled, or (with
    `proxy_of`) a pull-through cache of that registry URL."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    proxy_of: str | None = None
    tls_files: tuple[Path, Path] | None = None  # certificate (chain) and key: serve HTTPS

    @property
    def url(self) -> str:
        return f"{'http' if self.tls_files is None else 'https'}://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DistributionServer:
        binary = distribution_binary()
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            + ("  delete:\n    enabled: true\n" if self.proxy_of is None else "")
            + f"http:\n  addr: 127.0.0.1:{self.port}\n"
            + (
                ""
                if self.tls_files is None
                else f"  tls:\n    certificate: {self.tls_files[0]}\n    key: {self.tls_files[1]}\n"
            )
            + ("" if self.proxy_of is None else f"proxy:\n  remoteurl: {self.proxy_of}\n")
        )
        self.process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until_serving(f"{self.url}/v2/", self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
