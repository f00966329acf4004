"""The README's reliability table, rendered from the rows the reliability suite recorded.

tests/reliability's `record(probe, load, outcome)` appends one JSON object a line to a results file;
`scripts/reliability` runs the suite into a fresh file and then calls this module, which writes the rows as a
Markdown table between the README's markers:

    <!-- reliability:begin -->
    | probe | load | outcome |
    ...
    <!-- reliability:end -->

Rows come in a stable order (by probe, then load), a row recorded twice is written once, and a `|` inside a cell
is escaped so it cannot split the row. Everything outside the markers is left byte for byte as it was.

    python -m testkit.reliability_table <results.jsonl> <README.md>
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

BEGIN = "<!-- reliability:begin -->"
END = "<!-- reliability:end -->"
HEADER = ("probe", "load", "outcome")


class Row(NamedTuple):
    probe: str
    load: str
    outcome: str


class MarkersMissing(ValueError):
    """The README lacks the begin and end markers, in that order, once each."""


def read_rows(lines: Iterable[str]) -> list[Row]:
    """The rows of a results file's lines, sorted and without duplicates; raises ValueError on a line that is
    not a JSON object with the three fields."""
    rows = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        entry = json.loads(line)
        if not isinstance(entry, dict) or not all(isinstance(entry.get(field), str) for field in HEADER):
            raise ValueError(f"line {number} is not a row of {HEADER}: {line.strip()!r}")
        rows.add(Row(entry["probe"], entry["load"], entry["outcome"]))
    return sorted(rows)


def render_table(rows: Sequence[Row]) -> str:
    """The Markdown table of `rows`, a line for the header, one for its rule, one per row."""
    lines = [_line(HEADER), _line(("---",) * len(HEADER))]
    lines += [_line(row) for row in rows]
    return "\n".join(lines)


def rewrite_section(readme: str, table: str) -> str:
    """`readme` with what lies between the markers replaced by `table`; raises MarkersMissing."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise MarkersMissing(f"the README needs {BEGIN} and then {END}, once each")
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def main(arguments: Sequence[str]) -> int:
    if len(arguments) != 2:
        print("usage: python -m testkit.reliability_table <results.jsonl> <README.md>", file=sys.stderr)
        return 2
    results, readme = Path(arguments[0]), Path(arguments[1])
    rows = read_rows(results.read_text(encoding="utf-8").splitlines()) if results.exists() else []
    readme.write_text(rewrite_section(readme.read_text(encoding="utf-8"), render_table(rows)), encoding="utf-8")
    print(f"{readme}: {len(rows)} reliability rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
