"""Unfinished uploads expire: a worker discards sessions older than --upload-expiry, staged bytes included."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from testkit.servers import PullcacheServer


def _request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _start_upload(server: PullcacheServer) -> str:
    request = urllib.request.Request(f"{server.url}/v2/team/app/blobs/uploads/", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Location"])


def test_upload_older_than_expiry_is_discarded_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = PullcacheServer(data_dir, anonymous_registry=True).start()
    location = _start_upload(server)
    chunk = b"x" * 1000
    assert _request("PATCH", server.url + location, chunk, {"Content-Range": "0-999"}) == 202
    server.stop()
    staged = list((data_dir / "uploads").iterdir())
    assert len(staged) == 1
    assert staged[0].stat().st_size == len(chunk)

    time.sleep(1.5)
    restarted = PullcacheServer(data_dir, anonymous_registry=True, extra_args=["--upload-expiry", "1"]).start()
    try:
        deadline = time.monotonic() + 10
        while _request("GET", restarted.url + location) != 404 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _request("GET", restarted.url + location) == 404
        assert list((data_dir / "uploads").iterdir()) == []
    finally:
        restarted.stop()


def test_upload_younger_than_expiry_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = PullcacheServer(data_dir, anonymous_registry=True).start()
    location = _start_upload(server)
    server.stop()

    restarted = PullcacheServer(data_dir, anonymous_registry=True, extra_args=["--upload-expiry", "3600"]).start()
    try:
        assert _request("GET", restarted.url + location) == 204
    finally:
        restarted.stop()
