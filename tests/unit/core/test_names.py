"""Repository names and tags by the grammar of the OCI distribution spec.

name: [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*
tag:  [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
"""

from __future__ import annotations

import pytest

from pullcache.core.names import MAX_NAME_LENGTH, is_valid_repository_name, is_valid_tag


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "0",
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
    ],
)
def test_name_of_the_spec_grammar_is_valid(name: str) -> None:
    assert is_valid_repository_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
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
    ],
)
def test_name_outside_the_spec_grammar_is_invalid(name: str) -> None:
    assert not is_valid_repository_name(name)


def test_name_of_the_maximum_length_is_valid() -> None:
    name = "b" + "/".join(["a" * 50] * 5)
    assert len(name) == MAX_NAME_LENGTH

    assert is_valid_repository_name(name)


def test_name_one_past_the_maximum_length_is_invalid() -> None:
    name = "bb" + "/".join(["a" * 50] * 5)
    assert len(name) == MAX_NAME_LENGTH + 1

    assert not is_valid_repository_name(name)


def test_maximum_name_length_is_distributions_255() -> None:
    assert MAX_NAME_LENGTH == 255


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
