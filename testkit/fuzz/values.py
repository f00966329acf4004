"""Hostile values: the strings, numbers and JSON documents a mutation puts where a valid value was.

Every draw takes the case's own `random.Random`, so a seed and an index give the same value on any machine.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

# aiohttp refuses a request line or header line past 8,190 bytes before any handler sees it: such requests are
# the raw door's (raw_door.py), every other door stays within this.
MAX_HEADER_TEXT = 4000
JsonValue = Any  # None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]

# Strings that have broken parsers before: empty, whitespace, control characters, path tricks, format strings,
# every Unicode plane (a lone surrogate cannot be encoded, so none here), and text shaped like the protocols' own.
TRICKY_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\x7f\x1b[31m",
    "..",
    "../../etc/passwd",
    "%2e%2e%2f",
    "%00",
    "%",
    "%zz",
    "/",
    "//",
    "a//b",
    "-",
    "_",
    ".",
    "a.",
    "A",
    "UPPER/Case",
    "é",
    "名前",
    "🐳",
    "\u202e",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "Ω" * 300,
    "%s%n%x",
    "{}",
    "[]",
    "null",
    "true",
    "-1",
    "0",
    "007",
    "²",
    "\u0661\u0662",
    "①",
    "1_000",
    " 1",
    "1e309",
    "NaN",
    "<a>&amp;</a>",
    "]]>",
    "'\"",
    "\\",
    "sha256:",
    "sha256:" + "0" * 64,
    "sha512:" + "f" * 128,
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "arn:aws:iam::000000000000:root",
    "arn:aws:ecr:us-east-1:000000000000:repository/x",
    "arn:aws:secretsmanager:us-east-1:000000000000:secret:x-AbCdEf",
    "arn:::::",
    "*",
    "?",
    "#",
    "&",
    "=",
    ";",
)
TRICKY_NUMBERS: tuple[int | float, ...] = (
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    10**30,
    -(10**30),
    1.5,
    -0.0,
    1e308,
    -1e308,
    1e-320,
)


def random_text(rng: random.Random, length: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def unicode_text(rng: random.Random, length: int) -> str:
    """Text from every plane but the surrogates, which no UTF-8 encoder writes."""
    characters: list[str] = []
    while len(characters) < length:
        code = rng.choice((rng.randrange(0x20, 0x7F), rng.randrange(0x80, 0x800), rng.randrange(0x800, 0x10FFFF)))
        if not 0xD800 <= code <= 0xDFFF:
            characters.append(chr(code))
    return "".join(characters)


def hostile_string(rng: random.Random) -> str:
    """A string chosen to hurt: a tricky one, a long one, random Unicode, or random ASCII punctuation."""
    draw: Callable[[], str] = rng.choice(
        (
            lambda: rng.choice(TRICKY_STRINGS),
            lambda: rng.choice(TRICKY_STRINGS),
            lambda: "a" * rng.choice((129, 256, 1025, 4097, 70_000)),
            lambda: unicode_text(rng, rng.randrange(1, 40)),
            lambda: random_text(rng, rng.randrange(1, 30), string.printable),
        )
    )
    return draw()


def header_safe(text: str) -> str:
    """`text` as a header value any HTTP parser takes: printable ASCII, everything else escaped as `\\xNN`
    (control characters and non-ASCII bytes in headers are the raw door's business), and short enough for any
    parser's line limit (a longer one is the raw door's too)."""
    escaped = "".join(c if " " <= c <= "~" else c.encode("unicode_escape").decode() for c in text[:MAX_HEADER_TEXT])
    return escaped[:MAX_HEADER_TEXT]


def hostile_number(rng: random.Random) -> int | float:
    return rng.choice(TRICKY_NUMBERS) if rng.random() < 0.8 else rng.randrange(-(10**6), 10**6)


def hostile_json(rng: random.Random, depth: int = 0) -> JsonValue:
    """Any JSON value: the wrong type wherever it lands, sometimes nested or large."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return hostile_number(rng)
    if kind in (3, 4, 5):
        return hostile_string(rng)
    if kind == 6:
        size = rng.choice((0, 1, 3, 200))
        return [hostile_json(rng, depth + 1) for _ in range(min(size, 3))] + [None] * max(size - 3, 0)
    if kind == 7:
        return {hostile_string(rng): hostile_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return nested(rng.choice(("[", "{")), rng.choice((10, 60, 65, 200)))


def nested(bracket: str, depth: int) -> JsonValue:
    """A list (or object) `depth` levels deep."""
    value: JsonValue = []
    for _ in range(depth - 1):
        value = [value] if bracket == "[" else {"a": value}
    return value


def nested_text(bracket: str, depth: int) -> bytes:
    """JSON text nesting `depth` levels: deeper than any encoder (or parser) recursing per level can go."""
    if bracket == "[":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def mutate_json(rng: random.Random, document: JsonValue) -> tuple[JsonValue, str]:
    """A copy of `document` with one thing changed, and what was changed: a value's type or size, a member added,
    removed or renamed, a list emptied or grown."""
    paths = list(_paths(document, ()))
    path = rng.choice(paths)
    operation = rng.randrange(6)
    if operation == 0 or not path:
        return _replace(document, path, hostile_json(rng)), f"value at {_show(path)} replaced"
    if operation == 1:
        return _replace(document, path, _grow(rng, _get(document, path))), f"value at {_show(path)} grown"
    parent_path, last = path[:-1], path[-1]
    parent = _get(document, parent_path)
    if isinstance(parent, dict) and isinstance(last, str):
        changed = dict(parent)
        if operation == 2:
            del changed[last]
            note = f"member {_show(path)} removed"
        elif operation == 3:
            changed[hostile_string(rng) or "x"] = hostile_json(rng)
            note = f"unknown member beside {_show(path)}"
        elif operation == 4:
            changed[last.swapcase() if last.swapcase() != last else last + "_"] = changed.pop(last)
            note = f"member {_show(path)} renamed"
        else:
            changed[last] = None
            note = f"member {_show(path)} null"
        return _replace(document, parent_path, changed), note
    if isinstance(parent, list):
        changed_list = list(parent)
        if operation == 2:
            changed_list.clear()
        else:
            changed_list.extend(changed_list[-1:] * rng.choice((1, 100, 1001)))
        return _replace(document, parent_path, changed_list), f"list at {_show(parent_path)} resized"
    return _replace(document, path, hostile_json(rng)), f"value at {_show(path)} replaced"


def _grow(rng: random.Random, value: JsonValue) -> JsonValue:
    if isinstance(value, str):
        return value * rng.choice((2, 100, 5000)) if value else "x" * 100_000
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return rng.choice((value * 10**20, -value - 1, float(value) + 0.5, 2**64))
    if isinstance(value, list):
        return value * 500 if value else [None] * 500
    return value


Path = tuple[str | int, ...]


def _paths(value: JsonValue, path: Path) -> Any:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for position, item in enumerate(value[:5]):
            yield from _paths(item, (*path, position))


def _get(value: JsonValue, path: Path) -> JsonValue:
    for step in path:
        value = value[step]
    return value


def _replace(value: JsonValue, path: Path, new: JsonValue) -> JsonValue:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[int(head)] = _replace(copy[int(head)], rest, new)
    return copy


def _show(path: Path) -> str:
    return "/" + "/".join(str(step) for step in path)
