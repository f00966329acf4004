"""A plain file server that answers `GET /<name>` with the kernel's sendfile and does nothing else.

Pulling the image from it with the benchmark's own client measures the client's ceiling over loopback: no
registry can serve faster than this, so a registry that comes close is limited by the client, not by itself.

    python -m bench.fileserver --root DIR --port PORT [--certificate PEM --key PEM]

With a certificate it serves HTTPS through asyncio's own TLS transport: what a bare aiohttp handler does over TLS.
"""

from __future__ import annotations

import argparse
import ssl
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from testkit.servers import free_port, stop_process_group, wait_until_serving

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]  # where `python -m bench.fileserver` resolves


def build_app(root: Path) -> web.Application:
    async def get_file(request: web.Request) -> web.StreamResponse:
        path = root / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})

    app = web.Application()
    app.router.add_get("/{name}", get_file)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fileserver", description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--certificate", type=Path)
    parser.add_argument("--key", type=Path)
    arguments = parser.parse_args(argv)
    context = None
    if arguments.certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(arguments.certificate, arguments.key)
    web.run_app(
        build_app(arguments.root),
        host="127.0.0.1",
        port=arguments.port,
        print=None,
        access_log=None,
        ssl_context=context,
    )


@dataclass
class FileServer:
    """`python -m bench.fileserver` in a child process, serving the files of `root`."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tls: tuple[Path, Path] | None = None  # certificate and key: serve HTTPS

    @property
    def url(self) -> str:
        return f"{'http' if self.tls is None else 'https'}://127.0.0.1:{self.port}"

    def start(self) -> FileServer:
        tls = [] if self.tls is None else ["--certificate", str(self.tls[0]), "--key", str(self.tls[1])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fileserver", "--root", str(self.root), "--port", str(self.port), *tls],
            cwd=REPOSITORY_ROOT,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until_serving(f"{self.url}/", self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)


if __name__ == "__main__":
    main()
