"""What the metrics read from elsewhere at scrape time: the totals of what the registry stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StorageTotals:
    blobs: int  # blobs stored, each once however many repositories link it
    blob_bytes: int
    uploads: int  # uploads started and neither finished nor expired


class StorageCensus(Protocol):
    async def storage_totals(self) -> StorageTotals:
        """The totals now: one read of the database."""
        ...
