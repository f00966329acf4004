"""The TLS bench, scaled down (two 1 MiB layers, one round): every figure is measured, every body it fetched was
checked (a wrong one raises), the servers' CPU is counted where they are processes of their own, and the ratios to
Distribution are printed. It checks the figures exist, never how fast they are."""

from __future__ import annotations

from pathlib import Path

from bench.image import write_image
from bench.tls import COLD, measure, render

MIB = 1 << 20


def test_a_scaled_down_run_measures_every_figure_over_tls_and_plain(tmp_path: Path) -> None:
    image = write_image(tmp_path / "image", 2, MIB)

    figures = measure(tmp_path, image, rounds=1)

    names = set(figures)
    assert {"warm: pullcache https", "warm: distribution https"} <= names
    assert {name for name, _start, _secure in COLD} <= names
    assert {"limit: blocking TLS sockets in threads", "limit: bare aiohttp over asyncio TLS"} <= names
    assert all(len(figure.seconds) == 1 and figure.seconds[0] > 0 for figure in figures.values())
    assert figures["warm: pullcache https"].cpu
    assert not figures["limit: blocking TLS sockets in threads"].cpu
    table = render(figures, 2 * MIB)
    assert "warm over TLS: pullcache" in table
    assert "cold over TLS: pullcache" in table
