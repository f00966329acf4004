"""Content digests as the OCI image spec defines them (`algorithm:encoded`).

Only the registered algorithms that can be verified are accepted: sha256 and sha512.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# The grammar of the image spec; an algorithm outside ALGORITHMS is well formed but unsupported.
# Matched with fullmatch: `$` would also accept a trailing newline.
_DIGEST = re.compile(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)")
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
CANONICAL = "sha256"


class InvalidDigest(ValueError):
    """The text is not a digest, or names an algorithm pullcache cannot verify."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid digest {text!r}: {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate `text`; raises InvalidDigest."""
        match = _DIGEST.fullmatch(text)
        if match is None:
            raise InvalidDigest(text, "not of the form algorithm:hex")
        algorithm, encoded = match.groups()
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise InvalidDigest(text, f"unsupported algorithm {algorithm!r}")
        if len(encoded) != length or not _is_lower_hex(encoded):
            raise InvalidDigest(text, f"{algorithm} needs {length} lowercase hex characters")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = CANONICAL) -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


def looks_like_digest(text: str) -> bool:
    """True when `text` is shaped like a digest (has a colon), whether or not it is valid."""
    return ":" in text


def _is_lower_hex(text: str) -> bool:
    return not text.strip("0123456789abcdef")  # what is left once every hex digit is stripped from both ends
