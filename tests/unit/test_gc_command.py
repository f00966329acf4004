"""What `pullcache gc` draws on a terminal."""

from __future__ import annotations

import io

from pullcache.gc_command import BAR_WIDTH, ProgressLine, render_progress


def test_a_phase_with_a_total_draws_a_bar() -> None:
    assert BAR_WIDTH == 30
    assert render_progress("repositories", 10, 40) == "[#######.......................] repositories 10/40"
    assert render_progress("repositories", 40, 40) == "[" + "#" * 30 + "] repositories 40/40"


def test_a_phase_without_a_total_draws_a_count() -> None:
    assert render_progress("blobs", 1200, 0) == "blobs 1200"


def test_the_line_is_redrawn_in_place_and_cleared() -> None:
    stream = io.StringIO()
    line = ProgressLine(stream)
    line.update("files", 5, 0)
    line.clear()
    assert stream.getvalue() == "\r\x1b[2Kfiles 5\r\x1b[2K"
