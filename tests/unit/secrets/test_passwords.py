"""GetRandomPassword's rules: the classes a request leaves in, each required once, and what cannot be drawn."""

from __future__ import annotations

import string

import pytest

from pullcache.secrets.errors import InvalidSecretParameter
from pullcache.secrets.passwords import NOTHING_LEFT, PUNCTUATION, TOO_SHORT, PasswordRules, random_password

CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION)


def test_by_default_32_characters_with_every_class_and_no_space() -> None:
    for _ in range(50):
        password = random_password(PasswordRules())
        assert len(password) == 32
        assert all(any(character in members for character in password) for members in CLASSES)
        assert " " not in password


def test_the_punctuation_is_awss_list() -> None:
    assert len(PUNCTUATION) == len(set(PUNCTUATION)) == 32
    assert set(PUNCTUATION) == set(string.punctuation)  # the printable ASCII punctuation AWS lists


@pytest.mark.parametrize(
    ("rules", "forbidden"),
    [
        (PasswordRules(exclude_lowercase=True), string.ascii_lowercase),
        (PasswordRules(exclude_uppercase=True), string.ascii_uppercase),
        (PasswordRules(exclude_numbers=True), string.digits),
        (PasswordRules(exclude_punctuation=True), PUNCTUATION),
        (PasswordRules(exclude_characters="abc0O1lI"), "abc0O1lI"),
    ],
)
def test_excluded_characters_never_appear(rules: PasswordRules, forbidden: str) -> None:
    for _ in range(50):
        assert not set(random_password(rules)) & set(forbidden)


def test_a_space_only_when_asked_for() -> None:
    rules = PasswordRules(length=200, include_space=True, exclude_punctuation=True, exclude_numbers=True)
    assert any(" " in random_password(rules) for _ in range(20))


def test_each_included_type_is_required_even_in_a_short_password() -> None:
    for _ in range(50):
        password = random_password(PasswordRules(length=4))
        assert all(any(character in members for character in password) for members in CLASSES)


def test_without_the_requirement_a_password_may_be_shorter_than_the_classes() -> None:
    assert len(random_password(PasswordRules(length=1, require_each_included_type=False))) == 1


def test_a_password_shorter_than_the_required_types_is_refused() -> None:
    with pytest.raises(InvalidSecretParameter, match=TOO_SHORT):
        random_password(PasswordRules(length=3))


def test_nothing_left_to_draw_from_is_refused() -> None:
    everything_excluded = PasswordRules(
        exclude_lowercase=True, exclude_uppercase=True, exclude_numbers=True, exclude_characters=PUNCTUATION
    )
    with pytest.raises(InvalidSecretParameter, match=NOTHING_LEFT):
        random_password(everything_excluded)


def test_a_class_emptied_by_excluded_characters_is_not_required() -> None:
    rules = PasswordRules(length=3, exclude_characters=string.digits)
    password = random_password(rules)
    assert len(password) == 3
    assert not set(password) & set(string.digits)
