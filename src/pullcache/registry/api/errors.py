"""The one table that maps registry errors to OCI error codes and statuses, and the one renderer.

{"errors": [{"code": "BLOB_UNKNOWN", "message": "...", "detail": {...}}]}

A 401 carries the challenge that tells the client how to authenticate: `WWW-Authenticate: Basic realm="..."`.

Failures that are the server's, not the request's. An upstream that limits its rate is 429 TOOMANYREQUESTS (with
the upstream's Retry-After); any other upstream failure is 502 (it answered an error of its own, or nonsense), 503
(unreachable, left alone after failing, or a destination this server refuses) or 504 (it did not answer in time);
a full disk is 507. The OCI spec lists no code for a server's failure: its codes say what is wrong with a request
or with content. These answers use UNSUPPORTED (`FAILURE_CODE`), the one listed code that claims least: it says
"this operation cannot be carried out here", and no client acts on it beyond printing it, where the other codes
would mislead: BLOB_UNKNOWN/MANIFEST_UNKNOWN read as absence (the very failure this must not look like),
UNAUTHORIZED/DENIED make clients drop or ask for credentials, TOOMANYREQUESTS makes them back off as for
throttling. Distribution's UNAVAILABLE and UNKNOWN are not in the spec's list.

What clients print: containerd reads the body of any error (`unexpected status code <url>: <status> - Server
message: <code>: <message>`); skopeo and podman (containers/image) and docker read the body of a 4xx only and print
a 5xx as its status line (`received unexpected HTTP status: <status>`). So the message is also carried in the
status line's reason phrase (`503 Service Unavailable: <message>`), which every one of them prints.
"""

from __future__ import annotations

import json
import math
import re
from http import HTTPStatus
from typing import NamedTuple

from aiohttp import web

from pullcache.registry import errors


class OciError(NamedTuple):
    http_status: int
    error_code: str


FAILURE_CODE = "UNSUPPORTED"  # the server's own failures: see the module's docstring
MAX_REASON = 200  # characters of a message carried in a status line's reason phrase
_NOT_IN_REASON = re.compile(r"[^\x20-\x7e]+")  # a reason phrase is one line of visible ASCII (and spaces)


# Looked up along the exception's class hierarchy, most specific first.
ERROR_TABLE: dict[type[errors.RegistryError], OciError] = {
    errors.BlobUnknown: OciError(404, "BLOB_UNKNOWN"),
    errors.BlobUploadInvalid: OciError(400, "BLOB_UPLOAD_INVALID"),
    errors.BlobUploadUnknown: OciError(404, "BLOB_UPLOAD_UNKNOWN"),
    errors.RangeInvalid: OciError(416, "BLOB_UPLOAD_INVALID"),
    errors.DigestInvalid: OciError(400, "DIGEST_INVALID"),
    errors.ManifestBlobUnknown: OciError(400, "MANIFEST_BLOB_UNKNOWN"),
    errors.ManifestInvalid: OciError(400, "MANIFEST_INVALID"),
    errors.ManifestTooLarge: OciError(413, "SIZE_INVALID"),
    errors.ManifestUnknown: OciError(404, "MANIFEST_UNKNOWN"),
    errors.NameInvalid: OciError(400, "NAME_INVALID"),
    errors.NameUnknown: OciError(404, "NAME_UNKNOWN"),
    errors.NoMirrorRule: OciError(404, "NAME_UNKNOWN"),  # a mirror request for an upstream no rule has
    errors.SizeInvalid: OciError(400, "SIZE_INVALID"),
    errors.TagInvalid: OciError(400, "TAG_INVALID"),
    # ECR answers a push to an immutable tag with TAG_INVALID (docker prints "tag invalid: The image tag ...").
    errors.TagImmutable: OciError(400, "TAG_INVALID"),
    errors.Unauthorized: OciError(401, "UNAUTHORIZED"),
    errors.Unsupported: OciError(400, "UNSUPPORTED"),
    errors.Denied: OciError(403, "DENIED"),
    # An upstream's failure (see the module's docstring for the code).
    errors.SourceThrottled: OciError(429, "TOOMANYREQUESTS"),
    errors.Unavailable: OciError(503, FAILURE_CODE),
    errors.SourceAnswerInvalid: OciError(502, FAILURE_CODE),
    errors.SourceTimedOut: OciError(504, FAILURE_CODE),
    errors.BlobFillFailed: OciError(502, FAILURE_CODE),
    # The spec has no code for a full disk; Distribution answers it 500 UNKNOWN. 507 Insufficient Storage (RFC 4918)
    # says it even to clients that print a 5xx as its status line alone, which carries the message too: it says
    # the upload must start again. The fault is the server's, not the push's.
    errors.StorageFull: OciError(507, FAILURE_CODE),
    errors.UploadDiscarded: OciError(507, FAILURE_CODE),  # the message says the upload must start again
}
UNKNOWN_ERROR = OciError(500, "UNKNOWN")
DEFAULT_REALM = "pullcache"


def basic_challenge(realm: str) -> str:
    """The challenge ECR sends (`Basic realm="https://<registry>/",service="ecr.amazonaws.com"`), for `realm`."""
    return f'Basic realm="{realm}",service="ecr.amazonaws.com"'


def oci_error_for(error: errors.RegistryError) -> OciError:
    for cls in type(error).__mro__:
        found = ERROR_TABLE.get(cls)
        if found is not None:
            return found
    return UNKNOWN_ERROR


def render(status: int, code: str, message: str, detail: object = None) -> web.Response:
    """The OCI error document; a 5xx carries `message` in its reason phrase too (see the module's docstring)."""
    body: dict[str, object] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return web.Response(
        status=status,
        reason=reason_phrase(status, message) if status >= 500 else None,
        body=json.dumps({"errors": [body]}).encode(),
        content_type="application/json",
    )


def reason_phrase(status: int, message: str) -> str:
    """`<the status's phrase>: <message>`, as one line of visible ASCII, the message cut at MAX_REASON."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    text = _NOT_IN_REASON.sub(" ", message).strip()
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 3] + "..."
    return f"{phrase}: {text}" if text else phrase


def render_error(error: errors.RegistryError, realm: str = DEFAULT_REALM) -> web.Response:
    """The response for `error`; a 401 challenges the client to authenticate in `realm`."""
    found = oci_error_for(error)
    response = render(found.http_status, found.error_code, error.message, error.detail)
    if found.http_status == 401:
        response.headers["WWW-Authenticate"] = basic_challenge(realm)
    if isinstance(error, errors.RangeInvalid) and error.size > 0:
        response.headers["Range"] = f"0-{error.size - 1}"
    if isinstance(error, errors.SourceThrottled) and error.retry_after is not None:
        response.headers["Retry-After"] = str(max(0, math.ceil(error.retry_after)))
    return response
