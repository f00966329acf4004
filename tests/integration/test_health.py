"""/healthz and /readyz against a real server whose /v2/ needs a token: no credentials needed for either, /readyz
says which check fails and why, and neither fills the access log."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.servers import PullcacheServer
from testkit.sync_client import request


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PullcacheServer]:
    started = PullcacheServer(tmp_path / "data", anonymous_registry=False, log_level="info").start()
    yield started
    started.stop()


def checks(server: PullcacheServer) -> tuple[int, dict[str, object]]:
    reply = request("GET", f"{server.url}/readyz")
    return reply.status, reply.json()


def test_alive_and_ready_without_credentials(server: PullcacheServer) -> None:
    alive = request("GET", f"{server.url}/healthz")

    assert (alive.status, alive.json()) == (200, {"status": "alive"})
    assert checks(server) == (200, {"status": "ready", "checks": {"database": "ok", "blob store": "ok"}})
    assert request("GET", f"{server.url}/v2/").status == 401  # the registry itself still asks for a token


def test_health_checks_stay_out_of_the_access_log(server: PullcacheServer) -> None:
    for _ in range(5):
        request("GET", f"{server.url}/healthz")
        request("GET", f"{server.url}/readyz")
    request("GET", f"{server.url}/v2/")

    paths = [json.loads(line).get("path") for line in server.log().splitlines() if line.startswith("{")]
    assert "/v2/" in paths
    assert "/healthz" not in paths
    assert "/readyz" not in paths


def test_a_blob_store_that_cannot_write_is_not_ready_and_says_so(server: PullcacheServer) -> None:
    uploads = server.data_dir / "uploads"
    shutil.rmtree(uploads)
    uploads.write_bytes(b"")  # a file where the staging directory should be

    status, body = checks(server)

    assert status == 503
    assert body["status"] == "not ready"
    reasons = body["checks"]
    assert isinstance(reasons, dict)
    assert reasons["database"] == "ok"
    assert str(reasons["blob store"]).startswith("the blob store cannot write")
    uploads.unlink()
    uploads.mkdir()
    assert checks(server)[0] == 200


def test_a_schema_behind_the_code_is_not_ready(server: PullcacheServer) -> None:
    database = sqlite3.connect(server.data_dir / "metadata.db")
    try:
        [(current,)] = database.execute("SELECT version_num FROM alembic_version").fetchall()
        with database:
            database.execute("UPDATE alembic_version SET version_num = '0001'")

        status, body = checks(server)

        with database:
            database.execute("UPDATE alembic_version SET version_num = ?", (current,))
    finally:
        database.close()
    assert status == 503
    reasons = body["checks"]
    assert isinstance(reasons, dict)
    assert reasons["database"] == f"the schema is at revision 0001, not {current}: migrations have not run"
    assert checks(server)[0] == 200
