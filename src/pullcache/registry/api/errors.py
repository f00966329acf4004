"""The one table that maps registry errors to OCI error codes and statuses, and the one renderer.

{"errors": [{"code": "BLOB_UNKNOWN", "message": "...", "detail": {...}}]}

A 401 carries the challenge that tells the client how to authenticate: `WWW-Authenticate: Basic realm="..."`.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from aiohttp import web

from pullcache.registry import errors


class OciError(NamedTuple):
    http_status: int
    error_code: str


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
    errors.SizeInvalid: OciError(400, "SIZE_INVALID"),
    errors.TagInvalid: OciError(400, "TAG_INVALID"),
    # ECR answers a push to an immutable tag with TAG_INVALID (docker prints "tag invalid: The image tag ...").
    errors.TagImmutable: OciError(400, "TAG_INVALID"),
    errors.Unauthorized: OciError(401, "UNAUTHORIZED"),
    errors.Unsupported: OciError(400, "UNSUPPORTED"),
    errors.Denied: OciError(403, "DENIED"),
    # CNCF Distribution's code for a proxy whose upstream fails (not in the OCI spec's list).
    errors.Unavailable: OciError(503, "UNAVAILABLE"),
    errors.BlobFillFailed: OciError(502, "UNAVAILABLE"),
    # The spec has no code for a full disk; Distribution answers it 500 UNKNOWN. 507 Insufficient Storage (RFC 4918)
    # says it even to clients that drop the body (docker's distribution client prints the status line of any 5xx);
    # clients that read the body (containerd, skopeo) print the message, which says the upload must start again.
    # UNAVAILABLE, Distribution's code for a registry that cannot serve now: the fault is the server's, not the push's.
    errors.StorageFull: OciError(507, "UNAVAILABLE"),
    errors.UploadDiscarded: OciError(507, "UNAVAILABLE"),  # the message says the upload must start again
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
    body: dict[str, object] = {"code": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return web.Response(
        status=status,
        body=json.dumps({"errors": [body]}).encode(),
        content_type="application/json",
    )


def render_error(error: errors.RegistryError, realm: str = DEFAULT_REALM) -> web.Response:
    """The response for `error`; a 401 challenges the client to authenticate in `realm`."""
    found = oci_error_for(error)
    response = render(found.http_status, found.error_code, error.message, error.detail)
    if found.http_status == 401:
        response.headers["WWW-Authenticate"] = basic_challenge(realm)
    if isinstance(error, errors.RangeInvalid) and error.size > 0:
        response.headers["Range"] = f"0-{error.size - 1}"
    return response
