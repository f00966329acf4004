"""The AWS front door: every AWS API request is authenticated with SigV4 and routed by its credential scope.

    POST /   X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository   (JSON 1.1: ecr, secretsmanager)
    POST /   Action=GetCallerIdentity&Version=2011-06-15                           (Query: iam, sts)

The scope's service (`.../us-east-1/ecr/aws4_request`) picks the service endpoint, its region becomes the call's
region. Errors before a service is known are rendered in the protocol the request itself speaks. Whom a key signs
for is the credential lookup's answer (aws/ports.py), handed to the handlers as it is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Generic

from aiohttp import web

from pullcache.aws.answered_calls import AnsweredCall, CallObserver
from pullcache.aws.auth_errors import (
    AuthError,
    AwsErrorSpec,
    AwsProtocol,
    ExpiredSecurityToken,
    InvalidSecurityToken,
    MissingAuthentication,
    UnknownAccessKey,
    aws_error_for,
)
from pullcache.aws.context import CallContext, PrincipalT
from pullcache.aws.errors import ErrorReply, UnknownOperation
from pullcache.aws.operations import ServiceEndpoint
from pullcache.aws.ports import UNOBSERVED, CredentialLookup, GatewayObserver, SigningCredentials
from pullcache.aws.sigv4 import ParsedSignature, SignedRequest, check_request_time, parse_signature, verify
from pullcache.aws.wire import WireRequest, WireResponse

log = logging.getLogger(__name__)

# AWS API bodies are small; the largest are ECR layer parts, sent base64-encoded in JSON. The body is read here,
# past aiohttp's own limit (a mebibyte, which request.read() enforces with a plain-text 413).
MAX_BODY_BYTES = 64 * 1024 * 1024
READ_BYTES = 1024 * 1024
# AWS documents no code for an oversized body; this one says what happened, in the shape of the request's protocol.
BODY_TOO_LARGE = ErrorReply(413, "RequestEntityTooLarge", f"The request body is larger than {MAX_BODY_BYTES} bytes")
# An unsigned request is parsed only to tell an unsigned operation this server does not implement (the largest such
# request, AssumeRoleWithSAML's 100,000-character assertion, is far smaller): no one may make it parse more for free.
MAX_UNSIGNED_BODY_BYTES = 256 * 1024
# Where the gateway leaves, on the request, the name of the service a signed request was for (`ecr`, `iam`, ...):
# what the request metrics call its door.
AWS_SERVICE = "aws_service"


class AwsGateway(Generic[PrincipalT]):
    def __init__(
        self,
        credentials: CredentialLookup[PrincipalT],
        endpoints: Mapping[str, ServiceEndpoint[CallContext[PrincipalT]]],
        observer: GatewayObserver = UNOBSERVED,
        calls: CallObserver[PrincipalT] | None = None,
    ) -> None:
        """`observer`: told of each signature refused. `calls`: told of every operation a signed request named,
        once answered (the audit trail)."""
        self._observer = observer
        self._calls = calls
        self._credentials = credentials
        self._endpoints = endpoints

    @property
    def endpoints(self) -> Mapping[str, ServiceEndpoint[CallContext[PrincipalT]]]:
        """The services this gateway serves, by the name a credential scope gives each (`ecr`, `iam`, ...)."""
        return self._endpoints

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        body = await _read_body(request)
        if body is None:
            speaker = self._endpoint_speaking(_protocol_of(WireRequest(dict(request.headers), b"", "")))
            return _response(speaker.protocol.render_error(BODY_TOO_LARGE, request_id))
        wire = WireRequest(dict(request.headers), body, request.query_string)
        signed = SignedRequest.build(
            request.method,
            request.raw_path.split("?", 1)[0],
            request.query.items(),
            request.headers.items(),
            body,
        )
        endpoint: ServiceEndpoint[CallContext[PrincipalT]] | None = None
        try:
            parsed = parse_signature(signed)
            endpoint = self._endpoints.get(parsed.scope.service)
            if endpoint is not None:
                request[AWS_SERVICE] = parsed.scope.service
            now = datetime.now(UTC)
            check_request_time(parsed, now)
            credentials = await self._authenticate(signed, parsed, now)
        except AuthError as error:
            unsigned = self._answer_unsigned(wire, request_id) if isinstance(error, MissingAuthentication) else None
            if unsigned is not None:
                return _response(unsigned)
            self._observer.signature_refused(type(error).__name__)
            return _response(self._render_auth_error(error, endpoint, wire, request_id))
        if endpoint is None:
            speaker = self._endpoint_speaking(_protocol_of(wire))
            reply = speaker.protocol.reply_for(UnknownOperation(None))
            return _response(speaker.protocol.render_error(reply, request_id))
        context = CallContext(
            principal=credentials.principal,
            region=parsed.scope.region,
            request_id=request_id,
            source_ip=request.remote or "",
            received_at=now,
            secure_transport=request.secure,
            access_key_id=parsed.access_key_id,
            credentials_expire_at=credentials.expires_at,
            credentials_issued_at=credentials.issued_at,
            host=request.host,
        )
        answer, outcome = await endpoint.answer(wire, context, request_id)
        if self._calls is not None and outcome.operation is not None:
            call = AnsweredCall(parsed.scope.service, outcome, context, request.headers.get("User-Agent", ""))
            try:
                self._calls.call_answered(call)
            except Exception:  # a record that cannot be kept never fails the call it records
                log.exception("recording a call of %s failed", outcome.operation)
        return _response(answer)

    async def _authenticate(
        self, signed: SignedRequest, parsed: ParsedSignature, now: datetime
    ) -> SigningCredentials[PrincipalT]:
        credentials = await self._credentials.find_credentials(parsed.access_key_id)
        if credentials is None or not credentials.active:
            raise UnknownAccessKey(parsed.access_key_id)
        if credentials.session_token != parsed.security_token:
            raise InvalidSecurityToken()
        if credentials.expires_at is not None and credentials.expires_at <= now:
            raise ExpiredSecurityToken()
        verify(signed, parsed, credentials.secret_access_key, now)
        return credentials

    def _render_auth_error(
        self,
        error: AuthError,
        endpoint: ServiceEndpoint[CallContext[PrincipalT]] | None,
        wire: WireRequest,
        request_id: str,
    ) -> WireResponse:
        if endpoint is None:
            endpoint = self._endpoint_speaking(_protocol_of(wire))
        spec: AwsErrorSpec = aws_error_for(error, AwsProtocol(endpoint.table.model.protocol))
        return endpoint.protocol.render_error(spec, request_id)

    def _answer_unsigned(self, wire: WireRequest, request_id: str) -> WireResponse | None:
        """The answer to a request without a signature that names an operation its model lets callers send unsigned
        (STS's AssumeRoleWithSAML, AssumeRoleWithWebIdentity) and this server does not implement: that it is not
        implemented. None for every other request: it needs a signature."""
        if len(wire.body) > MAX_UNSIGNED_BODY_BYTES:
            return None
        protocol = _protocol_of(wire)
        for endpoint in self._endpoints.values():
            if endpoint.table.model.protocol == protocol:
                answer = endpoint.answer_unsigned(wire, request_id)
                if answer is not None:
                    return answer
        return None

    def _endpoint_speaking(self, protocol: AwsProtocol) -> ServiceEndpoint[CallContext[PrincipalT]]:
        return next(e for e in self._endpoints.values() if e.table.model.protocol == protocol)


async def _read_body(request: web.Request) -> bytes | None:
    """The whole body, or None when it is (or says it is) longer than MAX_BODY_BYTES."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(READ_BYTES):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _protocol_of(wire: WireRequest) -> AwsProtocol:
    """The protocol a request speaks when its signature does not say which service it is for."""
    return AwsProtocol.JSON if wire.header("X-Amz-Target") is not None else AwsProtocol.QUERY


def _response(wire: WireResponse) -> web.Response:
    return web.Response(status=wire.http_status, body=wire.body, headers=dict(wire.headers))
