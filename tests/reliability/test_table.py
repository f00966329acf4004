"""The README's reliability table: rows read from the results file, rendered, and put between the markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.reliability_table import BEGIN, END, MarkersMissing, Row, main, read_rows, render_table, rewrite_section


def _line(probe: str, load: str, outcome: str) -> str:
    return json.dumps({"probe": probe, "load": load, "outcome": outcome})


def test_rows_are_sorted_and_recorded_twice_written_once() -> None:
    lines = [_line("soak", "1 h", "flat"), "", _line("fuzzer", "10,000", "0 5xx"), _line("soak", "1 h", "flat")]

    assert read_rows(lines) == [Row("fuzzer", "10,000", "0 5xx"), Row("soak", "1 h", "flat")]


def test_a_line_without_the_three_fields_is_refused() -> None:
    with pytest.raises(ValueError, match="line 1"):
        read_rows([json.dumps({"probe": "x", "load": "y"})])


def test_table_has_a_header_a_rule_and_a_line_per_row_with_pipes_escaped() -> None:
    table = render_table([Row("a|b", "c", "d")])

    assert table.splitlines() == ["| probe | load | outcome |", "| --- | --- | --- |", "| a\\|b | c | d |"]


def test_only_what_lies_between_the_markers_is_replaced() -> None:
    readme = f"intro\n{BEGIN}\nold table\n{END}\noutro\n"

    assert rewrite_section(readme, "new") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"


@pytest.mark.parametrize("readme", ["no markers", f"{END}\n{BEGIN}", f"{BEGIN}{BEGIN}{END}"])
def test_a_readme_without_one_pair_of_markers_in_order_is_refused(readme: str) -> None:
    with pytest.raises(MarkersMissing):
        rewrite_section(readme, "table")


def test_main_rewrites_the_readme_from_the_results_file(tmp_path: Path) -> None:
    results, readme = tmp_path / "results.jsonl", tmp_path / "README.md"
    results.write_text(_line("fuzzer", "10,000 requests", "0 5xx") + "\n")
    readme.write_text(f"# x\n{BEGIN}\n{END}\n")

    assert main([str(results), str(readme)]) == 0

    assert "| fuzzer | 10,000 requests | 0 5xx |" in readme.read_text()
