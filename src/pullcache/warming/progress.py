"""What `pullcache warm` shows: a bar per image under way on a terminal, a line per image otherwise, a summary.

On a terminal the images under way are a block of bars at the bottom, redrawn in place (ANSI cursor movements,
at most every REDRAW_SECONDS while bytes flow); an image that ends leaves its one-line outcome above the block.
Without a terminal nothing is redrawn: one line per image as it ends. Only ASCII is written.

The rendering functions are pure (text in, text out), so the formats are tested without a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final, TextIO

from pullcache.warming.warmer import ImageTally, Tally

REDRAW_SECONDS: Final = 0.1
BAR_WIDTH: Final = 30
_UNITS: Final = ("B", "KiB", "MiB", "GiB", "TiB")
_UP: Final = "\x1b[{}F"  # to the start of the line n lines up
_CLEAR: Final = "\x1b[2K"  # the whole line


def format_size(size: int) -> str:
    """Bytes in binary units, one decimal past bytes: 0 B, 1023 B, 1.5 KiB, 40.2 MiB."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def render_bar(image: ImageTally, width: int) -> str:
    """One image under way, within `width` columns: `name [######......] 1.2 MiB / 4.0 MiB`."""
    if image.total is None:
        counts = "reading manifests"
        bar = "[" + "?" * BAR_WIDTH + "]"
    else:
        counts = f"{format_size(image.done)} / {format_size(image.total)}"
        filled = BAR_WIDTH if image.total == 0 else min(BAR_WIDTH, BAR_WIDTH * image.done // image.total)
        bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"
    tail = f" {bar} {counts}"
    room = max(width - len(tail) - 1, 8)
    name = image.name if len(image.name) <= room else "..." + image.name[-(room - 3) :]
    return (name + tail)[: max(width - 1, 1)]


def render_outcome(image: ImageTally) -> str:
    """An image that ended, in one line."""
    if image.failure is not None:
        return f"failed {image.name}: {image.failure}"
    return (
        f"warmed {image.name}: {image.manifests} manifest{_s(image.manifests)}, {image.blobs} blob{_s(image.blobs)}, "
        f"{_split(image.bytes)}"
    )


def render_summary(images: Sequence[ImageTally], totals: Tally) -> list[str]:
    """The lines of the summary: images warmed, bytes by origin, then each failure."""
    warmed = sum(1 for image in images if image.failure is None)
    lines = [
        f"images warmed: {warmed} of {len(images)}",
        f"bytes from upstream: {totals.upstream} ({format_size(totals.upstream)})",
        f"bytes already cached: {totals.cached} ({format_size(totals.cached)})",
    ]
    if totals.untold:
        lines.append(f"bytes the registry did not label (no X-Cache): {totals.untold} ({format_size(totals.untold)})")
    lines.extend(render_outcome(image) for image in images if image.failure is not None)
    return lines


class OutcomeLines:
    """Without a terminal: a line per image as it ends, nothing while it runs."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def started(self, image: ImageTally) -> None:
        pass

    def changed(self, image: ImageTally) -> None:
        pass

    def finished(self, image: ImageTally) -> None:
        self._stream.write(render_outcome(image) + "\n")
        self._stream.flush()

    def close(self) -> None:
        pass


class TerminalBars:
    """On a terminal: the images under way as a block of bars redrawn in place, outcomes printed above it."""

    def __init__(self, stream: TextIO, width: Callable[[], int], clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._width = width
        self._clock = clock
        self._active: list[ImageTally] = []
        self._ended: list[ImageTally] = []
        self._drawn = 0  # lines of the block on screen
        self._last = float("-inf")

    def started(self, image: ImageTally) -> None:
        self._active.append(image)
        self._draw()

    def changed(self, image: ImageTally) -> None:
        if self._clock() - self._last >= REDRAW_SECONDS:
            self._draw()

    def finished(self, image: ImageTally) -> None:
        if image in self._active:
            self._active.remove(image)
        self._ended.append(image)
        self._draw()

    def close(self) -> None:
        self._draw()

    def _draw(self) -> None:
        self._last = self._clock()
        self._stream.write(redraw(self._drawn, [render_outcome(i) for i in self._ended], self._bars()))
        self._stream.flush()
        self._drawn = len(self._active)
        self._ended.clear()

    def _bars(self) -> list[str]:
        width = self._width()
        return [render_bar(image, width) for image in self._active]


def redraw(drawn: int, outcomes: Sequence[str], bars: Sequence[str]) -> str:
    """What replaces a block of `drawn` bar lines (the cursor just below it): `outcomes` for good, then `bars`,
    each line cleared first; lines of the old block left over are blanked, the cursor left below the new one."""
    parts = [_UP.format(drawn)] if drawn else []
    parts.extend(f"{_CLEAR}{line}\n" for line in (*outcomes, *bars))
    left_over = drawn - len(outcomes) - len(bars)
    if left_over > 0:
        parts.append(f"{_CLEAR}\n" * left_over)
        parts.append(_UP.format(left_over))
    return "".join(parts)


def _split(tally: Tally) -> str:
    total = tally.upstream + tally.cached + tally.untold
    parts = [f"{format_size(tally.upstream)} from upstream", f"{format_size(tally.cached)} already cached"]
    if tally.untold:
        parts.append(f"{format_size(tally.untold)} not labelled")
    return f"{format_size(total)} ({', '.join(parts)})"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
