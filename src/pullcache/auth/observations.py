"""What authentication and authorization report, for whoever counts them (the metrics adapter implements it).

Labels are bounded: a refused token's reason (`invalid`, `expired`, `revoked`) and an action name
(`ecr:BatchGetImage`) - never a principal, a repository or a token.
"""

from __future__ import annotations

from typing import Final, Protocol


class AccessObserver(Protocol):
    def token_refused(self, reason: str) -> None:
        """A registry token refused: `invalid` (not signed here), `expired`, or `revoked` (its key is gone)."""
        ...

    def denied(self, action: str) -> None:
        """The policies refused `action` to a caller."""
        ...


class Unobserved:
    """Counts nothing."""

    def token_refused(self, reason: str) -> None:
        pass

    def denied(self, action: str) -> None:
        pass


UNOBSERVED: Final = Unobserved()
