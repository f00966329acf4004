"""Operation tables and the endpoint that serves them: adding an operation is registering one handler.

A handler takes the parsed, validated parameters (keyed by the model's member names) and the request's
context, and returns the output (keyed likewise); the protocol does the rest. A service's domain errors reach
the wire through its table's one mapping, from exception class to an error shape of its model.

    table = OperationTable[Ctx](models.get("ecr"), errors={RepositoryMissing: "RepositoryNotFoundException"})
    table.register("CreateRepository", create_repository)
    endpoint = ServiceEndpoint.for_table(table)
    response = await endpoint.handle(wire_request, context, request_id)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.model import ServiceModel

from pullcache.aws.answered_calls import Outcome
from pullcache.aws.errors import (
    INTERNAL_FAILURE,
    ErrorReply,
    InvalidInput,
    OperationNotImplemented,
    ProtocolError,
    reply_for_error_shape,
)
from pullcache.aws.json_protocol import JsonProtocol
from pullcache.aws.query_protocol import QueryProtocol
from pullcache.aws.validation import Validator
from pullcache.aws.validation_messages import VALIDATION_DIALECTS
from pullcache.aws.wire import Params, WireProtocol, WireRequest, WireResponse

log = logging.getLogger(__name__)

ContextT = TypeVar("ContextT")
Handler = Callable[[Params, ContextT], Awaitable[Mapping[str, Any]]]


class OperationTable(Generic[ContextT]):
    """The handlers of one service, by operation name, and the mapping of its domain errors to the wire.

    `errors` maps domain errors to error shapes of the model; `common_errors` maps those the service sends
    without a shape in its model (AccessDenied, ValidationError, ...) to (HTTP status, code).
    """

    def __init__(
        self,
        model: ServiceModel,
        errors: Mapping[type[Exception], str] | None = None,
        common_errors: Mapping[type[Exception], tuple[int, str]] | None = None,
    ) -> None:
        """Raises KeyError when `errors` names a shape the model lacks: a typo stops start-up."""
        self.model = model
        self._handlers: dict[str, Handler[ContextT]] = {}
        self._errors = dict(errors or {})
        self._common_errors = dict(common_errors or {})
        for shape_name in self._errors.values():
            reply_for_error_shape(model, shape_name, None)

    def register(self, operation: str, handler: Handler[ContextT]) -> None:
        """Raises ValueError when the model has no such operation or it already has a handler."""
        if operation not in self.model.operation_names:
            raise ValueError(f"{self.model.service_name} has no operation {operation!r}")
        if operation in self._handlers:
            raise ValueError(f"{operation} already has a handler")
        self._handlers[operation] = handler

    def find_handler(self, operation: str) -> Handler[ContextT] | None:
        return self._handlers.get(operation)

    @property
    def operations(self) -> frozenset[str]:
        """The operations this table serves: the others of its model answer that they are not implemented."""
        return frozenset(self._handlers)

    def find_reply(self, error: Exception) -> ErrorReply | None:
        """The reply for a domain error, looked up along its class hierarchy; None when it is not mapped."""
        for cls in type(error).__mro__:
            common = self._common_errors.get(cls)
            if common is not None:
                return ErrorReply(common[0], common[1], str(error))
            shape_name = self._errors.get(cls)
            if shape_name is not None:
                return reply_for_error_shape(self.model, shape_name, str(error))
        return None


@dataclass(frozen=True, slots=True)
class ServiceEndpoint(Generic[ContextT]):
    """Serves one service: parse, validate, call the handler, serialize; every failure becomes an AWS error."""

    table: OperationTable[ContextT]
    protocol: WireProtocol
    validator: Validator

    @classmethod
    def for_table(cls, table: OperationTable[ContextT]) -> ServiceEndpoint[ContextT]:
        """The endpoint speaking the protocol the table's model names, with its service's validation wording."""
        model = table.model
        dialect = VALIDATION_DIALECTS[model.service_name]
        protocol: WireProtocol
        if model.protocol == "json":
            protocol = JsonProtocol(model, dialect)
        elif model.protocol == "query":
            protocol = QueryProtocol(model, dialect)
        else:
            raise ValueError(f"{model.service_name} speaks {model.protocol}, which pullcache does not")
        return cls(table, protocol, Validator(model))

    def answer_unsigned(self, request: WireRequest, request_id: str) -> WireResponse | None:
        """The answer to an unsigned request for an operation the model lets callers send unsigned and the table
        does not serve: that it is not implemented. None for any other request (it needs a signature)."""
        try:
            operation = self.protocol.parse(request).operation
        except ProtocolError:
            return None
        if operation.auth_type != "none" or self.table.find_handler(operation.name) is not None:
            return None
        reply = self.protocol.reply_for(OperationNotImplemented(operation.name))
        return self.protocol.render_error(reply, request_id)

    async def handle(self, request: WireRequest, context: ContextT, request_id: str) -> WireResponse:
        """Never raises: an unmapped exception is logged and answered as InternalFailure (500)."""
        response, _ = await self.answer(request, context, request_id)
        return response

    async def answer(self, request: WireRequest, context: ContextT, request_id: str) -> tuple[WireResponse, Outcome]:
        """As `handle`, with what became of the request: its operation, parameters, output or error."""
        operation_name: str | None = None
        params: Params = {}
        try:
            parsed = self.protocol.parse(request)
            operation = parsed.operation
            operation_name, params = operation.name, parsed.params
            handler = self.table.find_handler(operation.name)
            if handler is None:
                raise OperationNotImplemented(operation.name)
            violations = self.validator.validate(operation.input_shape, parsed.params)
            if violations:
                raise InvalidInput(violations)
            output = await handler(parsed.params, context)
            return self.protocol.serialize(operation, output, request_id), Outcome(operation_name, params, output)
        except ProtocolError as error:
            reply = self.protocol.reply_for(error)
        except Exception as error:
            found = self.table.find_reply(error)
            if found is None:
                log.exception(
                    "unmapped error in %s", self.table.model.service_name, extra={"fields": {"request_id": request_id}}
                )
                found = INTERNAL_FAILURE
            reply = found
        outcome = Outcome(operation_name, params, error_code=reply.error_code, error_message=reply.message)
        return self.protocol.render_error(reply, request_id), outcome
