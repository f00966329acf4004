"""Where each statement of a policy document's text begins and ends, as the policy simulator reports it.

IAM reports a statement by the line and column just past its opening brace (StartPosition) and just past its
closing brace (EndPosition); lines and columns count from 1. For AWS's example document

    {"Version":"2012-10-17","Statement":{"Effect":"Allow", ... }}}     (167 characters, one line)

the statement's `{` is the 37th character and its `}` the 166th: IAM answers (1, 38) and (1, 167).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

_WHITESPACE = " \t\n\r"


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class StatementSpan:
    start: Position
    end: Position


def statement_spans(text: str) -> list[StatementSpan]:
    """The spans of the document's statements in the order they are written; `text` must be a valid policy.

    A single statement object (`"Statement": {...}`) has one span. Returns [] when the text is not the JSON
    object of a policy, rather than fail: positions are a courtesy of the simulator's answer.
    """
    try:
        statement = _statement_value(text)
    except (ValueError, IndexError):
        return []
    if statement is None:
        return []
    start, end = statement
    if text[start] == "{":
        return [_span(text, start, end)]
    spans = []
    decoder = json.JSONDecoder()
    index = _skip(text, start + 1)
    while text[index] != "]":
        _, element_end = decoder.raw_decode(text, index)
        if text[index] == "{":
            spans.append(_span(text, index, element_end))
        index = _skip(text, element_end)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return spans


def _statement_value(text: str) -> tuple[int, int] | None:
    """Where the value of the top-level "Statement" member begins and ends (the last one, as JSON parsers read
    duplicate members); raises ValueError or IndexError for text that is no JSON object."""
    decoder = json.JSONDecoder()
    index = _skip(text, 0)
    if text[index] != "{":
        raise ValueError("not an object")
    index = _skip(text, index + 1)
    found = None
    while text[index] != "}":
        if text[index] != '"':
            raise ValueError("a member name must be a string")
        name, index = decoder.raw_decode(text, index)
        index = _skip(text, index)
        if text[index] != ":":
            raise ValueError("a member name must be followed by a colon")
        value_start = _skip(text, index + 1)
        _, value_end = decoder.raw_decode(text, value_start)
        if name == "Statement":
            found = (value_start, value_end)
        index = _skip(text, value_end)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return found


def _span(text: str, start: int, end: int) -> StatementSpan:
    """The span of the object at text[start:end] (`end` just past its closing brace)."""
    return StatementSpan(_past(text, start), _past(text, end - 1))


def _past(text: str, offset: int) -> Position:
    """The 1-based line and column just past the character at `offset`."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(text.count("\n", 0, offset) + 1, offset - line_start + 2)


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index
