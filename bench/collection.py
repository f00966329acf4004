"""What a garbage collection costs (issue 12): its time and memory over a store of 100,000 blobs.

A data dir is built directly (rows and files, no server): BLOBS blobs of BLOB_BYTES each, linked into REPOSITORIES
repositories, named by manifests of BLOBS_PER_MANIFEST blobs each - except the manifests of every other group,
left out as if deleted, so that half the blobs are garbage whose links are past the grace period. Then, each in a
child process of its own (so its peak resident memory is the collection's, not the build's):

    dry run           what `pullcache gc --dry-run` reads: every repository's manifests and links, every file
    collection        the run that frees the half: links, rows and files deleted under the guard, in batches
    nothing to free   the run after it: the steady cost of a collection that finds nothing

Each line gives the wall time, the blobs a second it went through, and the peak resident memory of the child
beside what the same child held before collecting (interpreter and imports).

    python -m bench.collection [--blobs N] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BLOBS = 100_000
BLOB_BYTES = 64
BLOBS_PER_MANIFEST = 10
REPOSITORIES = 10
INSERT_BATCH = 5_000
ACCOUNT, REGION = "000000000000", "us-east-1"


@dataclass(frozen=True, slots=True)
class CollectionFigure:
    run: str
    seconds: float
    blobs_freed: int
    bytes_freed: int
    rss_before_mib: float
    rss_peak_mib: float


def build(data_dir: Path, blobs: int) -> None:
    """The data dir described above, migrated; its links stamped two days ago."""
    from pullcache.metadata.engine import create_engine, migrate

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'metadata.db'}")
    asyncio.run(_migrate(engine, migrate))
    contents = [f"blob {n}".encode().ljust(BLOB_BYTES, b".") for n in range(blobs)]
    digests = [hashlib.sha256(content).hexdigest() for content in contents]
    for content, encoded in zip(contents, digests, strict=True):
        path = data_dir / "blobs" / "sha256" / encoded[:2] / encoded
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    _write_rows(data_dir / "metadata.db", digests)


async def _migrate(engine: object, migrate: object) -> None:
    await migrate(engine)  # type: ignore[operator]
    await engine.dispose()  # type: ignore[attr-defined]


def _write_rows(database: Path, digests: Sequence[str]) -> None:
    import sqlite3

    long_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat(sep=" ")
    connection = sqlite3.connect(database)
    with connection:
        for n in range(REPOSITORIES):
            connection.execute(
                "INSERT INTO repositories (name, created_at, account_id, region, tag_mutability, scan_on_push,"
                " encryption_type) VALUES (?, ?, ?, ?, 'MUTABLE', 0, 'AES256')",
                (f"bench/gc-{n}", long_ago, ACCOUNT, REGION),
            )
        ids = [row[0] for row in connection.execute("SELECT id FROM repositories ORDER BY id")]
        groups = [digests[start : start + BLOBS_PER_MANIFEST] for start in range(0, len(digests), BLOBS_PER_MANIFEST)]
        for start in range(0, len(digests), INSERT_BATCH):
            batch = digests[start : start + INSERT_BATCH]
            connection.executemany(
                "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)",
                [(f"sha256:{d}", BLOB_BYTES, long_ago) for d in batch],
            )
        for number, group in enumerate(groups):
            repository = ids[number % len(ids)]
            connection.executemany(
                "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?)",
                [(repository, f"sha256:{d}", long_ago) for d in group],
            )
            if number % 2:
                continue  # this group's manifest was deleted: its blobs are garbage
            manifest = _manifest(group)
            connection.execute(
                "INSERT INTO manifests (repository_id, digest, media_type, content, created_at, cached)"
                " VALUES (?, ?, ?, ?, ?, 0)",
                (
                    repository,
                    "sha256:" + hashlib.sha256(manifest).hexdigest(),
                    "application/vnd.oci.image.manifest.v1+json",
                    manifest,
                    long_ago,
                ),
            )
    connection.close()


def _manifest(group: Sequence[str]) -> bytes:
    def descriptor(media_type: str, digest: str) -> dict[str, object]:
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": BLOB_BYTES}

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", group[0]),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", d) for d in group[1:]],
        }
    ).encode()


def collect_in_child(data_dir: Path, run: str, *, dry_run: bool) -> CollectionFigure:
    """One collection over `data_dir` in a child process; its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.collection", "--collect", str(data_dir), *(["--dry-run"] if dry_run else [])],
        capture_output=True,
        text=True,
        check=True,
    )
    return CollectionFigure(run=run, **json.loads(done.stdout))


def _collect(data_dir: Path, dry_run: bool) -> None:
    from pullcache import admin

    before = _rss_mib()
    started = time.perf_counter()
    report = admin.collect_garbage(data_dir, dry_run=dry_run)
    seconds = time.perf_counter() - started
    figures = {
        "seconds": round(seconds, 3),
        "blobs_freed": report.blobs + report.orphans,
        "bytes_freed": report.bytes_freed,
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures))


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def run_collection_bench(work_dir: Path, blobs: int = BLOBS) -> list[CollectionFigure]:
    data_dir = work_dir / "data"
    build(data_dir, blobs)
    return [
        collect_in_child(data_dir, "dry run", dry_run=True),
        collect_in_child(data_dir, "collection", dry_run=False),
        collect_in_child(data_dir, "nothing to free", dry_run=False),
    ]


def render(figures: Sequence[CollectionFigure], blobs: int) -> str:
    lines = [
        "| run | seconds | blobs a second | freed | peak RSS (before collecting) |",
        "|---|---:|---:|---:|---:|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.run} | {figure.seconds:.2f} | {blobs / figure.seconds:,.0f} | "
            f"{figure.blobs_freed:,} blobs, {figure.bytes_freed:,} B | "
            f"{figure.rss_peak_mib:.0f} MiB ({figure.rss_before_mib:.0f} MiB) |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.collection", description=__doc__.split("\n")[0])
    parser.add_argument("--blobs", type=int, default=BLOBS)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--collect", type=Path, help=argparse.SUPPRESS)  # the child's side
    parser.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.collect is not None:
        _collect(arguments.collect, arguments.dry_run)
        return
    work_dir = Path(tempfile.mkdtemp(prefix="pullcache-bench-gc-", dir=arguments.work_dir))
    try:
        figures = run_collection_bench(work_dir, arguments.blobs)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(json.dumps([asdict(figure) for figure in figures]))
    print(render(figures, arguments.blobs))


if __name__ == "__main__":
    main()
