"""GetRandomPassword: a password drawn with the `secrets` module from the character classes a request leaves in.

    classes          lower-case letters, upper-case letters, digits, punctuation (AWS's list below), and a space
                     only when IncludeSpace is set
    ExcludeCharacters  removes single characters from every class; a class left empty counts as excluded
    RequireEachIncludedType (default true)  at least one character of every class left in (the space aside: AWS
                     lists letters, numbers and punctuation as the types)

The length (1 to 4,096, 32 by default) is checked by the model. What AWS answers when nothing is left to draw from,
or when the length is shorter than the classes required, is not documented: both are InvalidParameterException here,
with messages of pullcache's own (reasoned).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from pullcache.secrets.errors import InvalidSecretParameter

DEFAULT_LENGTH = 32
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"  # AWS's list: the printable ASCII punctuation
NOTHING_LEFT = "The password must be made of at least one character: every character is excluded."
TOO_SHORT = "The password length is too short to include every required character type."


@dataclass(frozen=True, slots=True)
class PasswordRules:
    length: int = DEFAULT_LENGTH
    exclude_characters: str = ""
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True


def random_password(rules: PasswordRules) -> str:
    """Raises InvalidSecretParameter (NOTHING_LEFT, TOO_SHORT)."""
    classes = [
        "".join(character for character in members if character not in rules.exclude_characters)
        for members, excluded in (
            (string.ascii_lowercase, rules.exclude_lowercase),
            (string.ascii_uppercase, rules.exclude_uppercase),
            (string.digits, rules.exclude_numbers),
            (PUNCTUATION, rules.exclude_punctuation),
        )
        if not excluded
    ]
    required = [members for members in classes if members] if rules.require_each_included_type else []
    space = " " if rules.include_space and " " not in rules.exclude_characters else ""
    alphabet = "".join(classes) + space
    if not alphabet:
        raise InvalidSecretParameter(NOTHING_LEFT)
    if len(required) > rules.length:
        raise InvalidSecretParameter(TOO_SHORT)
    drawn = [secrets.choice(members) for members in required]
    drawn += [secrets.choice(alphabet) for _ in range(rules.length - len(drawn))]
    for index in range(len(drawn) - 1, 0, -1):  # Fisher-Yates with the secrets module's randomness
        other = secrets.randbelow(index + 1)
        drawn[index], drawn[other] = drawn[other], drawn[index]
    return "".join(drawn)
