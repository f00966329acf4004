"""What a request can get wrong before a service sees it, as facts; and the reply an error becomes on the wire.

ProtocolError
├── UnknownOperation         the target or Action names no operation of this service's model
├── OperationNotImplemented  an operation of the model that this server has no handler for
├── MissingAction            a Query request without an Action
├── MalformedRequest         the body cannot be read, or a value has the wrong type for its shape
└── InvalidInput             values break the constraints of the input shape (the violations are listed)

Each protocol module owns the table from these to codes; a service's own errors are its model's error shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.model import ServiceModel

if TYPE_CHECKING:
    from pullcache.aws.validation import Violation

# AWS's text for InternalFailure, its common error for "something broke on our side".
INTERNAL_FAILURE_MESSAGE = "The request processing has failed because of an unknown error, exception or failure."


class ProtocolError(Exception):
    """Base of every error of the protocol edge itself."""


class UnknownOperation(ProtocolError):
    def __init__(self, operation: str | None, version: str | None = None) -> None:
        super().__init__(f"unknown operation {operation!r}")
        self.operation = operation
        self.version = version


class OperationNotImplemented(ProtocolError):
    """An operation the service's model has and this server does not serve (its table registers no handler)."""

    def __init__(self, operation: str) -> None:
        message = f"The operation {operation} is not implemented by this server"
        super().__init__(message)
        self.operation = operation
        self.message = message


class MissingAction(ProtocolError):
    def __init__(self) -> None:
        super().__init__("the request has no Action")


class MalformedRequest(ProtocolError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ProtocolError):
    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__(f"{len(violations)} constraint violation(s), first at {violations[0].path!r}")
        self.violations = tuple(violations)


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error as the wire shows it. 5xx is the service's fault (Query: Receiver), anything else the sender's.

    `fields` are the other members of the error shape, by their wire names (ECR's InvalidLayerPartException
    tells `lastValidByteReceived`); the JSON protocol writes them beside the message.
    """

    http_status: int
    error_code: str
    message: str | None = None
    fields: Mapping[str, object] = field(default_factory=dict)


INTERNAL_FAILURE = ErrorReply(500, "InternalFailure", INTERNAL_FAILURE_MESSAGE)


def reply_for_error_shape(model: ServiceModel, shape_name: str, message: str | None) -> ErrorReply:
    """The reply for one of the model's error shapes: code and status from its `error` trait when it has one.

    JSON 1.1 models (ECR, Secrets Manager) mostly have no trait: the code is the shape name and the status 400.
    Raises KeyError when the model has no such error shape.
    """
    shape = next((shape for shape in model.error_shapes if shape.name == shape_name), None)
    if shape is None:
        raise KeyError(f"{model.service_name} has no error shape {shape_name!r}")
    trait = shape.metadata.get("error", {})
    return ErrorReply(int(trait.get("httpStatusCode", 400)), str(trait.get("code", shape_name)), message)
