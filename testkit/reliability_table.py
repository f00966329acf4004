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
    lines = [markdown_row(HEADER), markdown_row(("---",) * len(HEADER))]
    lines += [markdown_row(row) for row in rows]
    return "\n".join(lines)


def rewrite_section(readme: str, table: str, begin: str = BEGIN, end: str = END) -> str:
    """`readme` with what lies between the markers (this table's, or `begin` and `end`) replaced by `table`;
    raises MarkersMissing."""
    if readme.count(begin) != 1 or readme.count(end) != 1 or readme.index(begin) > readme.index(end):
        raise MarkersMissing(f"the README needs {begin} and then {end}, once each")
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def markdown_row(cells: Sequence[str]) -> str:
    """One row of a Markdown table: a `|` inside a cell escaped, a line break made a space."""
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
