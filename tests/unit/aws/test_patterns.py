"""Java patterns from the models, matched the way Java (and so AWS) matches them."""

from __future__ import annotations

import pytest

from pullcache.aws.patterns import UnsupportedPattern, compile_java_pattern, translate_java_pattern

USER_NAME = "[\\w+=,.@-]+"
TAG_KEY = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
ARN = "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+"


def matches(pattern: str, text: str) -> bool:
    return compile_java_pattern(pattern).fullmatch(text) is not None


@pytest.mark.parametrize(("text", "expected"), [("alice+ops@example.com", True), ("bøb", False), ("\uff41", False)])
def test_word_class_is_ascii_as_in_java(text: str, expected: bool) -> None:
    assert matches(USER_NAME, text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Größe", True), ("日本語", True), ("non\u00a0breaking", True), ("٣", True), ("a&b", False), ("tab\t", False)],
)
def test_unicode_categories_are_explicit_classes(text: str, expected: bool) -> None:
    assert matches(TAG_KEY, text) is expected


@pytest.mark.parametrize(("text", "expected"), [("arn:aws:iam::1:role/r", True), ("\x01", False), ("0F", True)])
def test_four_digit_unicode_escapes_read_as_java_reads_them(text: str, expected: bool) -> None:
    # Java and Python both read \u10000 as \u1000 then "0": the class ends "\u1000, 0-\u10FF, F, F".
    assert matches(ARN, text) is expected


def test_supplementary_characters_are_outside_that_class() -> None:
    assert not matches(ARN, "arn:\U0001f600")


@pytest.mark.parametrize("terminator", ["\n", "\r", "\u0085", "\u2028", "\u2029"])
def test_dot_excludes_every_java_line_terminator(terminator: str) -> None:
    assert not matches("a.b", f"a{terminator}b")
    assert matches("a.b", "a-b")


def test_the_whole_value_must_match() -> None:
    assert not matches("[0-9]{12}", "1234567890123")
    assert matches("(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)", "/a/b/")
    assert not matches("(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)", "/a/b")


@pytest.mark.parametrize(
    ("java", "python"),
    [
        ("a\\z", "a\\Z"),
        ("(?<name>x)", "(?P<name>x)"),
        ("(?<=a)b(?<!c)", "(?<=a)b(?<!c)"),
        ("\\p{Alpha}", "[a-zA-Z]"),
        ("[^\\p{Digit}x]", "[^0-9x]"),
        ("\\x{1F600}", "\\U0001F600"),
    ],
)
def test_java_only_syntax_is_rewritten(java: str, python: str) -> None:
    assert translate_java_pattern(java) == python


@pytest.mark.parametrize("pattern", ["[a-z&&[^aeiou]]", "[[a]]", "\\Qa.b\\E", "\\p{IsLatin}", "\\h", "\\1", "[a"])
def test_java_syntax_without_a_translation_is_refused(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        compile_java_pattern(pattern)
