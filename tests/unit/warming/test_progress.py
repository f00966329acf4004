"""What `pullcache warm` writes while it runs and when it ends: bars on a terminal, lines without one."""

from __future__ import annotations

import io

from pullcache.warming.progress import (
    OutcomeLines,
    TerminalBars,
    format_size,
    redraw,
    render_bar,
    render_outcome,
    render_summary,
)
from pullcache.warming.warmer import ImageTally, Tally

UP = "\x1b[{}F"
CLEAR = "\x1b[2K"


def warmed(name: str = "host:5000/up/app:v1") -> ImageTally:
    image = ImageTally(name, done=3 << 20, total=3 << 20, manifests=2, blobs=3, finished=True)
    image.bytes = Tally(upstream=2 << 20, cached=(1 << 20) + 512)
    return image


def test_sizes_are_in_binary_units_with_one_decimal() -> None:
    assert [format_size(n) for n in (0, 1023, 1536, 40 << 20, 5 << 40)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "40.0 MiB",
        "5.0 TiB",
    ]


def test_a_bar_shows_bytes_done_of_the_total_in_ascii() -> None:
    image = ImageTally("up/app:v1", done=1 << 20, total=4 << 20)

    bar = render_bar(image, 100)

    assert bar == "up/app:v1 [#######.......................] 1.0 MiB / 4.0 MiB"
    assert bar.isascii()


def test_a_bar_before_the_manifests_are_read_says_so() -> None:
    assert render_bar(ImageTally("up/app:v1"), 100).endswith("] reading manifests")


def test_a_bar_never_reaches_the_last_column_and_keeps_the_names_end() -> None:
    image = ImageTally("registry.example.com:5000/up/very/long/repository/name:v1", done=0, total=10)

    bar = render_bar(image, 60)

    assert len(bar) == 59  # the last column left empty: a full line would wrap on some terminals
    assert bar.startswith("...")
    assert "name:v1 [" in bar


def test_an_outcome_says_what_came_from_upstream_and_what_was_cached() -> None:
    assert render_outcome(warmed()) == (
        "warmed host:5000/up/app:v1: 2 manifests, 3 blobs, 3.0 MiB (2.0 MiB from upstream, 1.0 MiB already cached)"
    )
    failed = ImageTally("up/app:gone", failure="MANIFEST_UNKNOWN: manifest unknown (HTTP 404)", finished=True)
    assert render_outcome(failed) == "failed up/app:gone: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)"


def test_the_summary_counts_images_and_bytes_and_lists_failures() -> None:
    failed = ImageTally("up/app:gone", failure="MANIFEST_UNKNOWN: manifest unknown (HTTP 404)", finished=True)

    lines = render_summary([warmed(), failed], Tally(upstream=2 << 20, cached=1024))

    assert lines == [
        "images warmed: 1 of 2",
        "bytes from upstream: 2097152 (2.0 MiB)",
        "bytes already cached: 1024 (1.0 KiB)",
        "failed up/app:gone: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)",
    ]


def test_bytes_a_registry_does_not_label_are_counted_apart() -> None:
    lines = render_summary([warmed()], Tally(untold=10))

    assert "bytes the registry did not label (no X-Cache): 10 (10 B)" in lines


def test_without_a_terminal_each_image_is_one_line_when_it_ends_and_nothing_else() -> None:
    stream = io.StringIO()
    lines = OutcomeLines(stream)
    image = ImageTally("up/app:v1")

    lines.started(image)
    image.total, image.done = 10, 5
    lines.changed(image)
    assert stream.getvalue() == ""
    image.done, image.finished = 10, True
    lines.finished(image)
    lines.close()

    assert stream.getvalue() == render_outcome(image) + "\n"
    assert "\x1b" not in stream.getvalue()
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_bars_are_redrawn_in_place_and_outcomes_stay_above_them() -> None:
    stream, now = io.StringIO(), [0.0]
    bars = TerminalBars(stream, lambda: 80, clock=lambda: now[0])
    first, second = ImageTally("up/a:v1", total=10), ImageTally("up/b:v1", total=10)

    bars.started(first)
    assert stream.getvalue() == f"{CLEAR}{render_bar(first, 80)}\n"
    bars.started(second)
    stream.truncate(0), stream.seek(0)

    first.done = 5
    now[0] += 0.01
    bars.changed(first)
    assert stream.getvalue() == ""  # too soon after the last redraw
    now[0] += 0.2
    bars.changed(first)
    assert stream.getvalue() == f"{UP.format(2)}{CLEAR}{render_bar(first, 80)}\n{CLEAR}{render_bar(second, 80)}\n"
    stream.truncate(0), stream.seek(0)

    first.done, first.finished = 10, True
    bars.finished(first)
    assert stream.getvalue() == f"{UP.format(2)}{CLEAR}{render_outcome(first)}\n{CLEAR}{render_bar(second, 80)}\n"
    stream.truncate(0), stream.seek(0)

    second.done, second.finished = 10, True
    bars.finished(second)
    bars.close()
    assert stream.getvalue() == f"{UP.format(1)}{CLEAR}{render_outcome(second)}\n"
    assert stream.getvalue().isascii()


def test_a_block_that_shrinks_blanks_its_old_lines_and_leaves_the_cursor_below_the_new_one() -> None:
    assert redraw(3, [], ["bar"]) == f"{UP.format(3)}{CLEAR}bar\n{CLEAR}\n{CLEAR}\n{UP.format(2)}"
    assert redraw(0, ["done"], []) == f"{CLEAR}done\n"
