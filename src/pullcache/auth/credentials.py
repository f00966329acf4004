"""Access key ids and secrets, as AWS forms them.

Access key ids have AWS's form: a four-letter prefix telling what they are (`AKIA` long-term, `ASIA` temporary)
and sixteen upper-case letters and digits; secrets are forty characters of base64's alphabet.
"""

from __future__ import annotations

import secrets
import string

LONG_TERM_PREFIX = "AKIA"
TEMPORARY_PREFIX = "ASIA"
_ID_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def new_access_key_id(prefix: str = LONG_TERM_PREFIX) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
