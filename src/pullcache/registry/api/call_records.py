"""The /v2/ calls as ECR's API names them, told to whoever keeps a record of calls (the audit trail).

AWS records what a Docker client does to an ECR registry as ECR API calls (ecr.amazonaws.com): the middleware here
does the same. Each endpoint that changes something stands for the ECR call it is, and a pull for its read:

    POST   /blobs/uploads/                an upload started           InitiateLayerUpload
    POST   /blobs/uploads/?digest=        a whole blob in one request CompleteLayerUpload
    POST   /blobs/uploads/?mount=&from=   a blob mounted (201)        CompleteLayerUpload, mountedFrom named
    PATCH  /blobs/uploads/<id>            a chunk                     UploadLayerPart
    PUT    /blobs/uploads/<id>?digest=    an upload finished          CompleteLayerUpload
    DELETE /blobs/uploads/<id>            an upload cancelled         CancelLayerUpload (ECR has no such call)
    PUT    /manifests/<reference>         a push                      PutImage
    DELETE /manifests/<reference>         a tag or manifest deleted   BatchDeleteImage
    DELETE /blobs/<digest>                a blob unlinked             BatchDeleteImage, layerDigest named
    GET    /manifests/<reference>         a pull (read)               BatchGetImage
    GET    /blobs/<digest>                a pull (read)               GetDownloadUrlForLayer

Everything else (the catalog, tag lists, referrers, HEAD checks) is a read no one asked to record. A request
refused before it had a caller (401: no valid token) has no one to record it of and is not told.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from aiohttp import web

from pullcache.core.scopes import RegistryScope
from pullcache.policy import RequestPrincipal
from pullcache.registry.api.access import GRANT_PARAMETER, find_access_key, find_principal
from pullcache.registry.api.context import repository, scope
from pullcache.registry.api.errors import oci_error_for
from pullcache.registry.api.routes import Handler
from pullcache.registry.errors import RegistryError

log = logging.getLogger(__name__)

_DIGEST_HEADER = "Docker-Content-Digest"


@dataclass(frozen=True, slots=True)
class RegistryCall:
    """One /v2/ request as the ECR call it stands for."""

    action: str  # PutImage, CompleteLayerUpload, BatchGetImage, ...
    read_only: bool
    scope: RegistryScope
    parameters: Mapping[str, object]  # ECR's member names: repositoryName, imageTag, layerDigest, ...
    principal: RequestPrincipal | None  # None: a blob URL's download grant, which names no caller
    access_key_id: str | None  # the key that obtained the caller's registry token
    status: int
    error_code: str | None
    error_message: str | None
    source_ip: str
    user_agent: str
    request_id: str
    at: datetime


class RegistryCallObserver(Protocol):
    @property
    def records_reads(self) -> bool:
        """Whether pulls are wanted too (else only the calls that change something are told)."""
        ...

    def call_answered(self, call: RegistryCall) -> None:
        """Told after the response is rendered; quick (the request waits), and never raises."""
        ...


REGISTRY_CALLS = web.AppKey("registry_calls", RegistryCallObserver)


@dataclass(frozen=True, slots=True)
class _Endpoint:
    action: str
    read_only: bool = False


# (method, the last segments of the route's path) -> the ECR call; uploads started by POST are told apart below.
_ENDPOINTS: Mapping[tuple[str, str], _Endpoint] = {
    ("POST", "blobs/uploads"): _Endpoint("InitiateLayerUpload"),
    ("PATCH", "blobs/uploads/{upload}"): _Endpoint("UploadLayerPart"),
    ("PUT", "blobs/uploads/{upload}"): _Endpoint("CompleteLayerUpload"),
    ("DELETE", "blobs/uploads/{upload}"): _Endpoint("CancelLayerUpload"),
    ("PUT", "manifests/{reference}"): _Endpoint("PutImage"),
    ("DELETE", "manifests/{reference}"): _Endpoint("BatchDeleteImage"),
    ("DELETE", "blobs/{digest}"): _Endpoint("BatchDeleteImage"),
    ("GET", "manifests/{reference}"): _Endpoint("BatchGetImage", read_only=True),
    ("GET", "blobs/{digest}"): _Endpoint("GetDownloadUrlForLayer", read_only=True),
}
COMPLETE_UPLOAD = "CompleteLayerUpload"
RAISED_STATUS = 500  # the status of a call that raised instead of answering: it did not succeed


@web.middleware
async def registry_calls(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the application's RegistryCallObserver of each /v2/ call it wants, once answered (errors rendered),
    or once it failed with an exception no one rendered (the client gone mid-upload, an error raised past the
    error middleware): the call happened, its state may have changed, and the record says how it ended."""
    try:
        response = await handler(request)
    except (Exception, asyncio.CancelledError) as error:
        _tell(request, None, _raised(error))
        raise
    _tell(request, response, _error_of(response))
    return response


def _tell(request: web.Request, response: web.StreamResponse | None, error: tuple[str | None, str | None]) -> None:
    observer = request.app.get(REGISTRY_CALLS)
    if observer is None or not request.path.startswith("/v2/"):
        return
    endpoint = _endpoint_of(request)
    if endpoint is None or (endpoint.read_only and not observer.records_reads):
        return
    try:
        call = _call(request, response, endpoint, error)
        if call is not None:
            observer.call_answered(call)
    except Exception:  # a record that cannot be kept never fails the request it records
        log.exception("recording %s %s failed", request.method, request.path)


def _endpoint_of(request: web.Request) -> _Endpoint | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    canonical = resource.canonical.rstrip("/")
    for (method, tail), endpoint in _ENDPOINTS.items():
        if method == request.method and canonical.endswith("/" + tail):
            return endpoint
    return None


def _call(
    request: web.Request,
    response: web.StreamResponse | None,
    endpoint: _Endpoint,
    error: tuple[str | None, str | None],
) -> RegistryCall | None:
    """The call `request` made; `response` None: it raised (`error` then says what)."""
    principal = find_principal(request)
    if principal is None and GRANT_PARAMETER not in request.query:
        return None  # refused before there was a caller
    error_code, error_message = error
    action, parameters = _described(request, response, endpoint)
    return RegistryCall(
        action=action,
        read_only=endpoint.read_only,
        scope=scope(request),
        parameters=parameters,
        principal=principal,
        access_key_id=find_access_key(request),
        status=RAISED_STATUS if response is None else response.status,
        error_code=error_code,
        error_message=error_message,
        source_ip=request.remote or "",
        user_agent=request.headers.get("User-Agent", ""),
        request_id=str(request.get("request_id", "")),
        at=datetime.now(UTC),
    )


def _described(
    request: web.Request, response: web.StreamResponse | None, endpoint: _Endpoint
) -> tuple[str, dict[str, object]]:
    """The ECR call and its parameters, by ECR's member names."""
    match = request.match_info
    parameters: dict[str, object] = {"repositoryName": repository(request) if "name" in match else ""}
    action = endpoint.action
    digest = None if response is None else response.headers.get(_DIGEST_HEADER)
    status = RAISED_STATUS if response is None else response.status
    if "reference" in match:
        reference = match["reference"]
        image_id = {"imageDigest": reference} if ":" in reference else {"imageTag": reference}
        if action == "PutImage":
            parameters.update(image_id)
            if digest and "imageDigest" not in image_id:
                parameters["imageDigest"] = digest
        else:
            parameters["imageIds"] = [image_id]
    elif "digest" in match:
        parameters["layerDigest"] = match["digest"]
    if "upload" in match:
        parameters["uploadId"] = match["upload"]
    if request.method == "POST":
        mount, source = request.query.get("mount"), request.query.get("from")
        if status == 201 and mount is not None:
            action = COMPLETE_UPLOAD
            parameters.update(layerDigests=[mount], mountedFrom=source)
        elif "digest" in request.query:
            action = COMPLETE_UPLOAD
            parameters["layerDigests"] = [request.query["digest"]]
    elif action == COMPLETE_UPLOAD and "digest" in request.query:
        parameters["layerDigests"] = [request.query["digest"]]
    return action, parameters


def _raised(error: BaseException) -> tuple[str, str]:
    """The code and message of an exception no error middleware rendered: a registry error's OCI code, else the
    exception's name (a client that went away: ConnectionResetError; a cancelled request: CancelledError)."""
    if isinstance(error, RegistryError):
        return oci_error_for(error).error_code, error.message
    return type(error).__name__, str(error)


def _error_of(response: web.StreamResponse) -> tuple[str | None, str | None]:
    """The OCI error code and message of a failed call (from the error document the edge rendered)."""
    if response.status < 400:
        return None, None
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, bytes):
        try:
            first = json.loads(body)["errors"][0]
            return str(first.get("code")), str(first.get("message"))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            pass
    return f"HTTP{response.status}", None
