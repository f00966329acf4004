"""A whole HTTP answer, as both faces of the registry client return it (registry_client.py, sync_client.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from multidict import CIMultiDictProxy

DIGEST_HEADER: Final = "Docker-Content-Digest"


@dataclass(frozen=True, slots=True, repr=False)
class Reply:
    """Status, headers and every byte of the body of one answer to `method`."""

    method: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def __repr__(self) -> str:
        return f"Reply({self.method} -> {self.status}, headers={dict(self.headers)}, body={self.body[:300]!r})"

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> str:
        """The media type the Content-Type states, lowercased and without parameters ("" when none is stated)."""
        return self.headers.get("Content-Type", "").partition(";")[0].strip().lower()

    @property
    def error_codes(self) -> list[str]:
        """The codes of an OCI error body, in order; nothing else of the body's shape is checked."""
        return [error["code"] for error in self.json()["errors"]]
