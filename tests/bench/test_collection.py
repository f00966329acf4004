"""The garbage collection bench, scaled down: the store it builds is collected as it says (half the blobs freed,
files and all; a second run finds nothing), and each run's figures are there. It checks the figures exist and
agree with the store, never how fast they are."""

from __future__ import annotations

from pathlib import Path

from bench.collection import BLOB_BYTES, render, run_collection_bench

BLOBS = 400


def test_a_scaled_down_run_frees_the_half_it_left_as_garbage(tmp_path: Path) -> None:
    figures = run_collection_bench(tmp_path, BLOBS)

    dry_run, collection, nothing = figures
    assert (dry_run.blobs_freed, dry_run.bytes_freed) == (BLOBS // 2, BLOBS // 2 * BLOB_BYTES)
    assert (collection.blobs_freed, collection.bytes_freed) == (BLOBS // 2, BLOBS // 2 * BLOB_BYTES)
    assert nothing.blobs_freed == 0
    files = [path for path in (tmp_path / "data" / "blobs").rglob("*") if path.is_file()]
    assert len(files) == BLOBS // 2
    assert all(figure.seconds > 0 and figure.rss_peak_mib >= figure.rss_before_mib > 0 for figure in figures)
    assert render(figures, BLOBS).count("\n") == 4
