"""What the clients of a fault probe were told: the writes the server acknowledged, the uploads it left open, and
every status it answered. After a crash and a restart, store_audit.py holds the server to this record."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from pullcache.core.digests import Digest

# The 5xx answers the server documents for an upstream's failure (registry/api/errors.py): an upstream that
# answered an error or nonsense, or a blob fill that failed while it was served (502), one that cannot be reached
# (503), one that did not answer in time (504). Anything else in the 5xx range is a defect.
DOCUMENTED_5XX: Final = frozenset({502, 503, 504})
# Their OCI error code, and that of an upstream's rate limit (429, documented too).
FAILURE_CODE: Final = "UNSUPPORTED"
THROTTLED: Final = (429, "TOOMANYREQUESTS")


@dataclass(frozen=True, slots=True)
class AcknowledgedImage:
    """A manifest PUT answered 201 after its blobs were pushed, or an import that served a whole pull."""

    repository: str
    tag: str
    digest: str
    blobs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OpenUpload:
    """A chunked upload the client started and could not finish: the server went away under it."""

    repository: str
    location: str
    data: bytes

    @property
    def digest(self) -> str:
        return str(Digest.of(self.data))


@dataclass(slots=True)
class Ledger:
    blobs: set[tuple[str, str]] = field(default_factory=set)  # (repository, digest): a blob push answered 201
    images: list[AcknowledgedImage] = field(default_factory=list)
    open_uploads: list[OpenUpload] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def undocumented_5xx(self) -> dict[int, int]:
        return {status: n for status, n in self.statuses.items() if status >= 500 and status not in DOCUMENTED_5XX}
