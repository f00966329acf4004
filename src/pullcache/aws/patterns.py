"""The `pattern` constraints of botocore's models are Java regular expressions: this translates them for `re`.

AWS checks a value against the whole pattern (Java's `Matcher.matches`), so compiled patterns are used with
`fullmatch`. Where the two dialects read the same text differently, the Java meaning is kept:

- `\\w`, `\\d`, `\\s` and `\\b` are ASCII-only in Java (no UNICODE_CHARACTER_CLASS): compiled with `re.ASCII`.
- `.` excludes every Java line terminator, not only `\\n`.
- `\\p{..}`/`\\P{..}` (Unicode categories and the POSIX ASCII classes) become explicit character sets.
- `\\z` is Python's `\\Z`; Java's `\\Z` allows one final line terminator; `(?<name>` is `(?P<name>`.
- `\\uXXXX` reads four hex digits in both, so `\\u10000` is `\\u1000` then `0` in both.

Anything else whose meaning differs and that no model uses (class intersections, nested classes, `\\Q..\\E`,
`\\h`, `\\v`, `\\R`, `\\X`, `\\G`, octal escapes, ...) raises UnsupportedPattern, so a new model with such a pattern
fails at start-up instead of validating wrongly.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

_LINE_TERMINATORS = "\\n\\r\\u0085\\u2028\\u2029"
_ANY_BUT_LINE_TERMINATOR = f"[^{_LINE_TERMINATORS}]"
_JAVA_END_Z = f"(?=(?:\\r\\n|[{_LINE_TERMINATORS}])?\\Z)"
# Escapes that read the same in both dialects (under re.ASCII), kept as written.
_SAME_ESCAPES = frozenset("tnrfa" + "dDsSwWbB" + "xu" + "\\^$.|?*+()[]{}-/&#!\"',:;<=>@_`~% ")
_UNSUPPORTED_ESCAPES = frozenset("QEhHvVRXGeckN0123456789")
# Java's POSIX classes are ASCII unless UNICODE_CHARACTER_CLASS is set.
_POSIX_CLASSES = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}


class UnsupportedPattern(ValueError):
    """A model's pattern uses Java syntax this translator does not carry over."""


def compile_java_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a model's Java pattern for `fullmatch`; raises UnsupportedPattern."""
    try:
        return re.compile(translate_java_pattern(pattern), re.ASCII)
    except re.error as error:
        raise UnsupportedPattern(f"{pattern!r}: {error}") from error


def translate_java_pattern(pattern: str) -> str:
    """The Python `re` text (to be compiled with re.ASCII) that means what `pattern` means to Java."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            text, i = _escape(pattern, i, in_class)
            out.append(text)
            continue
        if in_class:
            if char == "[" or pattern.startswith("&&", i):
                raise UnsupportedPattern(f"{pattern!r}: nested classes and intersections are not supported")
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):  # a leading ']' is a literal in both dialects
                out.append("\\]")
                i += 1
            continue
        elif char == ".":
            char = _ANY_BUT_LINE_TERMINATOR
        elif pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            char, i = "(?P<", i + 2
        out.append(char)
        i += 1
    if in_class:
        raise UnsupportedPattern(f"{pattern!r}: unterminated character class")
    return "".join(out)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape at `pattern[i]` (a backslash); returns the text and the index after it."""
    if i + 1 >= len(pattern):
        raise UnsupportedPattern(f"{pattern!r}: trailing backslash")
    letter = pattern[i + 1]
    if letter in "pP":
        return _category(pattern, i, in_class)
    if letter == "z":
        return "\\Z", i + 2
    if letter == "Z":
        return _JAVA_END_Z, i + 2
    if letter == "x" and pattern.startswith("{", i + 2):
        end = pattern.index("}", i)
        return f"\\U{int(pattern[i + 3 : end], 16):08X}", end + 1
    if letter in _UNSUPPORTED_ESCAPES or (letter not in _SAME_ESCAPES and letter.isascii() and letter.isalnum()):
        raise UnsupportedPattern(f"{pattern!r}: the escape \\{letter} is not supported")
    return pattern[i : i + 2], i + 2


def _category(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    negated = pattern[i + 1] == "P"
    if pattern.startswith("{", i + 2):
        end = pattern.index("}", i)
        name, after = pattern[i + 3 : end], end + 1
    else:
        name, after = pattern[i + 2], i + 3
    members = _class_members(pattern, name)
    if in_class:
        if negated:
            raise UnsupportedPattern(f"{pattern!r}: \\P inside a character class is not supported")
        return members, after
    return f"[{'^' if negated else ''}{members}]", after


def _class_members(pattern: str, name: str) -> str:
    """The inside of a character class for Java's `\\p{name}`."""
    if name in _POSIX_CLASSES:
        return _POSIX_CLASSES[name]
    category = name.removeprefix("Is").removeprefix("general_category=").removeprefix("gc=")
    ranges = _category_ranges(category)
    if not ranges:
        raise UnsupportedPattern(f"{pattern!r}: unknown class \\p{{{name}}}")
    return "".join(_range_text(first, last) for first, last in ranges)


def _category_ranges(category: str) -> list[tuple[int, int]]:
    """Code point ranges of a Unicode general category: two letters (`Lu`) or one for its group (`L`)."""
    ranges = _general_categories()
    if len(category) == 2:
        return ranges.get(category, [])
    return sorted(pair for name, pairs in ranges.items() if name[0] == category for pair in pairs)


@cache
def _general_categories() -> dict[str, list[tuple[int, int]]]:
    """Every code point's general category, as ranges; computed once, on the first pattern that needs it."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    current, start = unicodedata.category("\0"), 0
    for code_point in range(1, sys.maxunicode + 2):
        category = unicodedata.category(chr(code_point)) if code_point <= sys.maxunicode else ""
        if category != current:
            ranges.setdefault(current, []).append((start, code_point - 1))
            current, start = category, code_point
    return ranges


def _range_text(first: int, last: int) -> str:
    return _code_point(first) if first == last else f"{_code_point(first)}-{_code_point(last)}"


def _code_point(code_point: int) -> str:
    return f"\\U{code_point:08X}"
