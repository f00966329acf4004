"""A fuzz case: one request, the door it knocks on, and where it came from (seed and index), printable as a
reproduction.

A case is plain data (method, target, headers, body): the generators build it, the runner sends it, the oracle
judges the answer, and a failure prints it whole enough to send again with curl or a socket.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

BODY_EXCERPT = 300  # bytes of a body a reproduction shows
HEADER_EXCERPT = 200  # characters of one header value a reproduction shows


class Door(enum.Enum):
    """Where a request enters, and so which error shape it must be answered in."""

    REGISTRY = "/v2/ (OCI)"
    JSON = "JSON 1.1 (ECR, Secrets Manager)"
    QUERY = "Query (IAM, STS)"
    SIGNATURE = "unsigned and badly signed"
    RAW = "raw HTTP (parser)"


@dataclass(frozen=True, slots=True)
class Case:
    """One request. `target` is the path and query exactly as sent (already percent-encoded); `chunked` sends the
    body with Transfer-Encoding: chunked instead of a Content-Length; `raw` is the whole request as bytes, for the
    raw door only."""

    door: Door
    index: int
    seed: int
    method: str
    target: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunked: bool = False
    raw: bytes | None = None
    note: str = ""  # which generator and mutation made it

    def reproduction(self) -> str:
        """The request as a failure report shows it: enough to send it again by hand."""
        lines = [
            f"seed {self.seed}, index {self.index} ({self.door.value}; {self.note})",
            f"  reproduce: FUZZ_SEED={self.seed} FUZZ_ONLY={self.index}",
        ]
        if self.raw is not None:
            lines.append(f"  raw request: {self.raw[: BODY_EXCERPT * 2]!r}" + _more(self.raw, BODY_EXCERPT * 2))
            return "\n".join(lines)
        target = self.target[:BODY_EXCERPT] + _more(self.target, BODY_EXCERPT)
        lines.append(f"  {self.method} {target}" + (" (chunked)" if self.chunked else ""))
        for name, value in self.headers.items():
            lines.append(f"  {name}: {value[:HEADER_EXCERPT]}" + _more(value, HEADER_EXCERPT))
        if self.body:
            lines.append(
                f"  body ({len(self.body)} bytes): {self.body[:BODY_EXCERPT]!r}" + _more(self.body, BODY_EXCERPT)
            )
        return "\n".join(lines)


def _more(text: bytes | str, shown: int) -> str:
    return f" ... ({len(text) - shown} more)" if len(text) > shown else ""


@dataclass(frozen=True, slots=True)
class Failure:
    """A case whose answer broke a rule (or never came): why, and what came back."""

    case: Case
    reason: str
    status: int | None = None
    body: bytes = b""

    def report(self) -> str:
        answer = "no answer" if self.status is None else f"answered {self.status}: {self.body[:300]!r}"
        return f"{self.reason}\n{self.case.reproduction()}\n  {answer}"
