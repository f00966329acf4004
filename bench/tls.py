"""Pulls over TLS: pullcache serving HTTPS beside CNCF Distribution serving HTTPS, in the same run, each figure
beside what this machine allows.

    python -m bench.tls [--layers 5] [--layer-mib 40] [--rounds 3]

The client is `curl --http1.1`, one process a blob, all of an image's layers at once (curl's OpenSSL decrypts at
the machine's speed; a Python client over asyncio's TLS would be the bottleneck, not the servers). Every round's
bodies are checked: the first against their digests, the others by size and status. Rounds alternate targets;
medians are reported.

    warm   the image's layers from a registry holding them: pullcache (1 worker, --tls-cert) and Distribution (its
           http.tls), and the same two over plain HTTP;
    cold   the layers through a fresh cache in front of a plain upstream (Distribution) that holds them: pullcache
           with a pull-through cache rule and Distribution in proxy mode, both serving HTTPS, a fresh cache a round,
           and the same two over plain HTTP;
    limits a threaded server writing the files to blocking TLS sockets (what Python can do here; with curl's own
           decryption sharing the two cores, the client's ceiling), a bare aiohttp FileResponse over asyncio's own
           TLS transport (the default path), and the upstream read directly (plain).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.cpu import watch_cpu
from bench.fileserver import FileServer
from bench.image import Image, write_image
from bench.report import grid, machine, now, write_record
from pullcache.tls import ensure_self_signed
from testkit.aws_clients import client, registry_authorization
from testkit.servers import DistributionServer, PullcacheServer, free_port

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1 << 20
RULE_PREFIX = "upstream"
REPOSITORY = "bench/tls"
TAG = "latest"
CURL_TIMEOUT = 300.0

Server = DistributionServer | PullcacheServer | FileServer
S = TypeVar("S", DistributionServer, PullcacheServer, FileServer)


@dataclass(frozen=True, slots=True)
class Certificates:
    chain: Path  # the server's certificate and the CA's, as both servers take it
    key: Path
    ca: Path  # what curl trusts


@dataclass(frozen=True, slots=True)
class Source:
    """Where a round's blobs come from: a base URL, a path per blob and the headers curl sends."""

    url: str
    paths: tuple[str, ...]
    headers: tuple[str, ...] = ()
    manifest: str | None = None  # fetched first, as a client pulling an image does (a cache learns the image so)
    pid: int | None = None  # the server's process, whose CPU (its tree's) the round costs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tls", description=__doc__)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--layer-mib", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not write the JSON results")
    arguments = parser.parse_args(argv)
    if shutil.which("curl") is None:
        sys.exit("curl is not installed: apt-get install -y curl")
    started = now()
    with tempfile.TemporaryDirectory(prefix="pullcache-bench-tls-") as scratch:
        work = Path(scratch)
        image = write_image(work / "image", arguments.layers, arguments.layer_mib * MIB)
        figures = measure(work, image, arguments.rounds)
    size = sum(blob.size for blob in image.layers)
    print(render(figures, size))
    if not arguments.no_record:
        record = {
            "suite": "tls",
            "machine": machine(),
            "layers": arguments.layers,
            "layer_bytes": arguments.layer_mib * MIB,
            "rounds": arguments.rounds,
            "figures": {name: asdict(figure) for name, figure in figures.items()},
        }
        print(f"results: {write_record(RESULTS, record, started)}", file=sys.stderr)


@dataclass
class Figure:
    """One figure's rounds: seconds, and the server's CPU seconds (None when it is no process of its own)."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def measure(work: Path, image: Image, rounds: int) -> dict[str, Figure]:
    """Each figure's rounds."""
    files = ensure_self_signed(work / "tls", ["localhost", "127.0.0.1"])
    certificates = Certificates(files.server.certificate, files.server.key, files.ca)
    tls = (certificates.chain, certificates.key)
    figures: dict[str, Figure] = {}
    servers: list[Server] = []
    try:
        upstream = _started(servers, DistributionServer(work / "upstream"))
        _push(upstream.url, REPOSITORY, image, None)
        warm = {
            "warm: pullcache https": _registry(
                servers, PullcacheServer(work / "warm-pullcache", tls_files=tls, tls_ca=files.ca), image
            ),
            "warm: distribution https": _registry(
                servers, DistributionServer(work / "warm-dist", tls_files=tls), image
            ),
            "warm: pullcache http": _registry(servers, PullcacheServer(work / "plain-pullcache"), image),
            "warm: distribution http": _registry(servers, DistributionServer(work / "plain-dist"), image),
        }
        layers_dir = work / "image"
        limits = {
            "limit: blocking TLS sockets in threads": _threaded_tls_files(layers_dir, certificates, image),
            "limit: bare aiohttp over asyncio TLS": _file_source(servers, FileServer(layers_dir, tls=tls), image),
            "limit: the upstream read directly": _blob_source(upstream.url, REPOSITORY, image, (), _pid(upstream)),
        }
        for repetition in range(rounds):
            for name, source in (*warm.items(), *limits.items()):
                _record(figures, name, _timed(source, image, certificates, verify=repetition == 0))
            for index, (name, start, secure) in enumerate(COLD):
                directory = work / f"cold-{repetition}-{index}"
                with start(directory, upstream.url, tls if secure else None, files.ca, image) as source:
                    _record(figures, name, _timed(source, image, certificates, verify=True))
            _progress(f"round {repetition + 1} of {rounds} done")
    finally:
        for server in servers:
            server.stop()
        _ThreadedTlsFiles.stop_all()
    return figures


def _record(figures: dict[str, Figure], name: str, measured: tuple[float, float | None]) -> None:
    figure = figures.setdefault(name, Figure())
    figure.seconds.append(measured[0])
    if measured[1] is not None:
        figure.cpu.append(measured[1])


def render(figures: dict[str, Figure], size: int) -> str:
    rows = [["figure", "seconds (median)", "MB/s", "server CPU s per GB", "rounds (s)"]]
    for name, figure in figures.items():
        median = statistics.median(figure.seconds)
        cpu = f"{statistics.median(figure.cpu) / (size / 1e9):.2f}" if figure.cpu else "-"
        rounds = " ".join(f"{value:.3f}" for value in figure.seconds)
        rows.append([name, f"{median:.3f}", f"{size / median / 1e6:,.0f}", cpu, rounds])
    seconds = {name: figure.seconds for name, figure in figures.items()}
    ratios = []
    for kind, ours, theirs in (
        ("warm", "warm: pullcache https", "warm: distribution https"),
        ("cold", "cold: pullcache https (rule)", "cold: distribution https (proxy)"),
    ):
        if ours in seconds and theirs in seconds:
            ratio = statistics.median(seconds[theirs]) / statistics.median(seconds[ours])
            ratios.append(f"{kind} over TLS: pullcache {ratio:.2f}x Distribution's MB/s")
    return grid(rows) + "\n" + "\n".join(ratios)


def _started(servers: list[Server], server: S) -> S:
    started = server.start()
    servers.append(started)
    return started


def _registry(servers: list[Server], server: DistributionServer | PullcacheServer, image: Image) -> Source:
    """A registry started and holding the image (pushed over its own scheme)."""
    running = server.start()
    servers.append(running)
    headers: tuple[str, ...] = ()
    ca = None
    if isinstance(running, PullcacheServer):
        headers = (f"Authorization: {registry_authorization(running)}",)
        ca = running.ca_file
    elif running.tls_files is not None:
        ca = running.tls_files[0]
    _push(running.url, REPOSITORY, image, ca, headers)
    return _blob_source(running.url, REPOSITORY, image, headers, _pid(running))


def _blob_source(url: str, repository: str, image: Image, headers: tuple[str, ...], pid: int | None) -> Source:
    paths = tuple(f"/v2/{repository}/blobs/{blob.digest}" for blob in image.layers)
    return Source(url, paths, headers, f"/v2/{repository}/manifests/{TAG}", pid)


def _file_source(servers: list[Server], server: FileServer, image: Image) -> Source:
    running = _started(servers, server)
    return Source(running.url, tuple(f"/{blob.path.name}" for blob in image.layers), pid=_pid(running))


@contextmanager
def _pullcache_cache(
    directory: Path, upstream: str, tls: tuple[Path, Path] | None, ca: Path, image: Image
) -> Iterator[Source]:
    server = PullcacheServer(directory, tls_files=tls, tls_ca=None if tls is None else ca).start()
    try:
        client(server, "ecr").create_pull_through_cache_rule(
            ecrRepositoryPrefix=RULE_PREFIX, upstreamRegistryUrl=upstream
        )
        headers = (f"Authorization: {registry_authorization(server)}",)
        yield _blob_source(server.url, f"{RULE_PREFIX}/{REPOSITORY}", image, headers, _pid(server))
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _distribution_cache(
    directory: Path, upstream: str, tls: tuple[Path, Path] | None, _ca: Path, image: Image
) -> Iterator[Source]:
    server = DistributionServer(directory, proxy_of=upstream, tls_files=tls).start()
    try:
        yield _blob_source(server.url, REPOSITORY, image, (), _pid(server))
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


Cache = Callable[[Path, str, tuple[Path, Path] | None, Path, Image], AbstractContextManager[Source]]
COLD: tuple[tuple[str, Cache, bool], ...] = (
    ("cold: pullcache https (rule)", _pullcache_cache, True),
    ("cold: distribution https (proxy)", _distribution_cache, True),
    ("cold: pullcache http (rule)", _pullcache_cache, False),
    ("cold: distribution http (proxy)", _distribution_cache, False),
)


def _timed(source: Source, image: Image, certificates: Certificates, *, verify: bool) -> tuple[float, float | None]:
    """Seconds for the manifest, then one curl a blob, all at once, and the server's CPU seconds meanwhile (None:
    not a process of its own); raises if a body is wrong."""
    curl = ["curl", "--silent", "--show-error", "--http1.1", "--cacert", str(certificates.ca)]
    curl += [argument for header in source.headers for argument in ("--header", header)]
    with tempfile.TemporaryDirectory(prefix="pullcache-bench-tls-pull-") as scratch:
        outputs = [Path(scratch) / str(index) if verify else Path("/dev/null") for index in range(len(source.paths))]
        watched = [source.pid] if source.pid is not None else []
        with watch_cpu(watched) as cpu:
            seconds, answers = _curls(source, image, curl, outputs)
        for answer, blob, output in zip(answers, image.layers, outputs, strict=True):
            if answer != f"200 {blob.size}":
                raise RuntimeError(f"{source.url}: {blob.digest} answered {answer!r}")
            if verify and _digest(output) != blob.digest:
                raise RuntimeError(f"{source.url}: {blob.digest} arrived with other bytes")
    return seconds, cpu.server_seconds if watched else None


def _curls(source: Source, image: Image, curl: list[str], outputs: list[Path]) -> tuple[float, list[str]]:
    """The manifest, then every blob at once: seconds, and each blob's status and size."""
    started = time.perf_counter()
    if source.manifest is not None:
        manifest = subprocess.run(
            [*curl, "--header", f"Accept: {image.media_type}", source.url + source.manifest],
            capture_output=True,
            timeout=CURL_TIMEOUT,
        ).stdout
        if manifest != image.manifest:
            raise RuntimeError(f"{source.url}: the manifest arrived as {manifest[:200]!r}")
    curls = [
        subprocess.Popen(
            [
                *curl,
                "--location",
                "--output",
                str(output),
                "--write-out",
                "%{http_code} %{size_download}",
                source.url + path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for path, output in zip(source.paths, outputs, strict=True)
    ]
    answers = [curl.communicate(timeout=CURL_TIMEOUT)[0] for curl in curls]
    return time.perf_counter() - started, answers


def _digest(path: Path) -> str:
    with path.open("rb") as file:
        return "sha256:" + hashlib.file_digest(file, "sha256").hexdigest()


def _push(url: str, repository: str, image: Image, ca: Path | None, headers: tuple[str, ...] = ()) -> None:
    """The image's blobs, each a POST and a monolithic PUT, with curl."""
    common = ["curl", "--silent", "--show-error", "--fail", *(["--cacert", str(ca)] if ca else [])]
    common += [argument for header in headers for argument in ("--header", header)]
    for blob in image.blobs:
        started = subprocess.run(
            [
                *common,
                "--request",
                "POST",
                "--dump-header",
                "-",
                "--output",
                "/dev/null",
                f"{url}/v2/{repository}/blobs/uploads/",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        location = next(
            line.split(":", 1)[1].strip() for line in started.splitlines() if line.lower().startswith("location:")
        )
        target = location if location.startswith("http") else url + location
        separator = "&" if "?" in target else "?"
        subprocess.run(
            [
                *common,
                "--request",
                "PUT",
                "--header",
                "Content-Type: application/octet-stream",
                "--data-binary",
                f"@{blob.path}",
                "--output",
                "/dev/null",
                f"{target}{separator}digest={blob.digest}",
            ],
            check=True,
        )
    subprocess.run(
        [
            *common,
            "--request",
            "PUT",
            "--header",
            f"Content-Type: {image.media_type}",
            "--data-binary",
            "@-",
            "--output",
            "/dev/null",
            f"{url}/v2/{repository}/manifests/{TAG}",
        ],
        input=image.manifest,
        check=True,
    )


class _ThreadedTlsFiles:
    """Files written to blocking TLS sockets, a thread a connection: no registry logic, no event loop."""

    running: list[_ThreadedTlsFiles] = []

    def __init__(self, root: Path, certificates: Certificates) -> None:
        self._root = root
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(certificates.chain, certificates.key)
        self._listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        _ThreadedTlsFiles.running.append(self)

    @classmethod
    def stop_all(cls) -> None:
        for server in cls.running:
            server._listener.close()
        cls.running.clear()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            with self._context.wrap_socket(connection, server_side=True) as tls:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += tls.recv(4096)
                path = self._root / head.split(b" ", 2)[1].decode().lstrip("/")
                size = path.stat().st_size
                tls.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
                with path.open("rb") as file:
                    while chunk := file.read(MIB):
                        tls.sendall(chunk)
        except (OSError, ssl.SSLError):
            pass


def _threaded_tls_files(root: Path, certificates: Certificates, image: Image) -> Source:
    server = _ThreadedTlsFiles(root, certificates)
    return Source(f"https://127.0.0.1:{server.port}", tuple(f"/{blob.path.name}" for blob in image.layers))


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _pid(server: Server) -> int | None:
    return server.process.pid if server.process is not None else None


if __name__ == "__main__":
    main()
