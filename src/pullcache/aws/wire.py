"""What passes between the HTTP edge and an AWS protocol: raw requests and responses, and parsed requests.

Parameters and outputs use the model's member names as keys (`repositoryName`, `UserName`) and Python values:
str, int, float, bool, bytes (blobs), aware datetimes (timestamps), lists and dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.model import OperationModel

from pullcache.aws.errors import ErrorReply, ProtocolError

REQUEST_ID_HEADER = "x-amzn-RequestId"

Params = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WireRequest:
    headers: Mapping[str, str]
    body: bytes
    query: str = ""  # the raw query string; the Query protocol reads parameters from it too

    def header(self, name: str) -> str | None:
        """The header's value, whatever the case of its name; None when absent."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class WireResponse:
    http_status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    operation: OperationModel
    params: Params


class WireError(Protocol):
    """An error as the wire shows it: the code clients switch on, its text, and the HTTP status."""

    @property
    def http_status(self) -> int: ...

    @property
    def error_code(self) -> str: ...

    @property
    def message(self) -> str | None: ...


class WireProtocol(Protocol):
    """One AWS protocol (JSON 1.1, Query) for one service model."""

    def parse(self, request: WireRequest) -> ParsedRequest:
        """The operation and its parameters, typed by the input shape but not yet validated.

        Raises UnknownOperation, MissingAction or MalformedRequest.
        """
        ...

    def serialize(self, operation: OperationModel, output: Mapping[str, Any], request_id: str) -> WireResponse: ...

    def render_error(self, error: WireError, request_id: str) -> WireResponse: ...

    def reply_for(self, error: ProtocolError) -> ErrorReply:
        """This protocol's code, status and text for an error of the protocol edge."""
        ...
