"""Repository names and tags by the grammar of the OCI distribution spec; names of 2 to 256 characters, ECR's
limits (tests/unit/ecr/test_repository_names.py holds them equal to ECR's model).

name: [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*
tag:  [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
"""

from __future__ import annotations

from typing import Final

import pytest

from pullcache.core.names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, is_valid_repository_name, is_valid_tag

VALID_NAMES: Final = [
    "ab",
    "00",
    "ubuntu",
    "library/ubuntu",
    "a/b/c/d/e",
    "my.registry.component",
    "snake_case",
    "double__underscore",
    "dash-ed",
    "many---dashes",
    "v1.2-rc_3__x",
    "0123/4567",
]
INVALID_NAMES: Final = [
    "",
    "a",
    "0",
    "Ubuntu",
    "library/Ubuntu",
    "-leading-dash",
    "trailing-dash-",
    "_leading",
    "trailing_",
    ".leading",
    "trailing.",
    "triple___underscore",
    "two..dots",
    "dot.-dash",
    "dash-.dot",
    "under_-dash",
    "/leading/slash",
    "trailing/slash/",
    "double//slash",
    "with space",
    "with:colon",
    "with@at",
    "ümlaut",
    "newline\n",
    "newline\nin/between",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_name_of_the_spec_grammar_is_valid(name: str) -> None:
    assert is_valid_repository_name(name)


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_name_outside_the_spec_grammar_is_invalid(name: str) -> None:
    assert not is_valid_repository_name(name)


def test_name_of_the_maximum_length_is_valid() -> None:
    name = "bb" + "/".join(["a" * 50] * 5)
    assert len(name) == MAX_NAME_LENGTH

    assert is_valid_repository_name(name)


def test_name_one_past_the_maximum_length_is_invalid() -> None:
    name = "bbb" + "/".join(["a" * 50] * 5)
    assert len(name) == MAX_NAME_LENGTH + 1

    assert not is_valid_repository_name(name)


def test_name_of_the_minimum_length_is_valid_and_one_shorter_is_not() -> None:
    assert is_valid_repository_name("a" * MIN_NAME_LENGTH)
    assert not is_valid_repository_name("a" * (MIN_NAME_LENGTH - 1))


def test_name_lengths_are_ecrs_2_to_256() -> None:
    assert (MIN_NAME_LENGTH, MAX_NAME_LENGTH) == (2, 256)


@pytest.mark.parametrize(
    "tag",
    ["latest", "v1.0.0", "1", "_", "_underscore-first", "UPPER", "a.b-c_d", "a" * 128, "sha256-abc.sig"],
)
def test_tag_of_the_spec_grammar_is_valid(tag: str) -> None:
    assert is_valid_tag(tag)


@pytest.mark.parametrize(
    "tag",
    ["", ".dot-first", "-dash-first", "a/b", "a:b", "a@b", "with space", "a" * 129, "latest\n", "ümlaut"],
)
def test_tag_outside_the_spec_grammar_is_invalid(tag: str) -> None:
    assert not is_valid_tag(tag)
