"""Policy variables: `${key}` in a Resource or a condition value takes the request's value of condition key `key`.

- `${aws:username}` is replaced by the single value of the key (key names ignore case).
- `${aws:PrincipalTag/team, 'company-wide'}` falls back to the quoted default when the key is absent.
- `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
- Substituted text always matches literally: a `*` in a user's tag is not a wildcard.
- A variable that has no value and no default cannot match anything: `expand` returns None.
- Only documents of Version 2012-10-17 have variables; older ones keep `${...}` as literal text.
"""

from __future__ import annotations

import re

from pullcache.policy.context import RequestContext
from pullcache.policy.matching import Glob

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
# key, optionally followed by `, 'default'`
_BODY = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def expand(template: str, context: RequestContext) -> Glob | None:
    """`template` with its variables replaced; None when a variable can take no value."""
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        parts.append((template[position : match.start()], False))
        value = _value_of(match.group(1), context)
        if value is None:
            return None
        parts.append((value, True))
        position = match.end()
    parts.append((template[position:], False))
    return Glob(tuple(part for part in parts if part[0]))


def _value_of(body: str, context: RequestContext) -> str | None:
    if body in _ESCAPES:
        return _ESCAPES[body]
    match = _BODY.fullmatch(body)
    if match is None:
        return "${" + body + "}"  # not a variable: the text stands for itself
    key, default = match.groups()
    values = context.find_values(key)
    if values is not None and len(values) == 1:
        return values[0]
    return default
