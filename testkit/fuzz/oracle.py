"""What every answer must be, whatever was asked: never a 5xx, and every error in its door's protocol shape.

- /v2/: `{"errors": [{"code": <a code of the OCI spec, or Distribution's TAG_INVALID/UNAVAILABLE>, "message":
  <text>}, ...]}` as application/json; a 401 says how to authenticate (WWW-Authenticate).
- JSON 1.1: a JSON object with a `__type` string, as application/x-amz-json-1.1.
- Query: `<ErrorResponse><Error><Code>` XML; a success is a `<...Response>` document.
- Unsigned or badly signed: the JSON or the Query error shape, whichever the request spoke.
- A HEAD answer has no body, whatever its status; nor need a 416 that says the blob's size (`Content-Range:
  bytes */<size>`), HTTP's own answer to a range outside the blob.

`verdict` returns None for an answer that holds, else the reason it does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from testkit.fuzz.cases import Case, Door
from testkit.oci_errors import SPEC_ERROR_CODES

# The OCI Distribution spec's error codes, and the two CNCF Distribution adds (a push to an immutable tag is
# refused with TAG_INVALID, an upstream's failure with UNAVAILABLE).
OCI_ERROR_CODES = frozenset(SPEC_ERROR_CODES) | {"TAG_INVALID", "UNAVAILABLE"}
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
# Answers without a body by definition.
BODILESS_STATUSES = frozenset({304})


def verdict(case: Case, status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    if status >= 500:
        return f"answered {status}"
    if case.method == "HEAD":
        return f"a HEAD answered with {len(body)} bytes of body" if body else None
    if status < 400 or status in BODILESS_STATUSES:
        return _success_shape(case, status, headers, body)
    if status == 416 and not body and headers.get("Content-Range", "").startswith("bytes */"):
        return None  # a range outside a blob: HTTP's own answer (RFC 9110 15.5.17), as CNCF Distribution sends it
    content_type = headers.get("Content-Type", "").partition(";")[0].strip()
    if case.door is Door.REGISTRY:
        return _oci_error(status, content_type, headers, body)
    if case.door is Door.JSON:
        return _json_error(content_type, body)
    if case.door is Door.QUERY:
        return _query_error(content_type, body)
    if case.door is Door.SIGNATURE:
        json_problem = _json_error(content_type, body)
        return None if json_problem is None else _query_error(content_type, body)
    return _raw_error(case, status, content_type, headers, body)


def _success_shape(case: Case, status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    if case.door is Door.QUERY and status == 200:
        root = _xml_root(body)
        if root is None or not root.tag.endswith("Response"):
            return f"a Query success that is not a <...Response> document: {body[:200]!r}"
    if case.door is Door.JSON and status == 200 and not isinstance(_json(body), dict):
        return f"a JSON 1.1 success that is not a JSON object: {body[:200]!r}"
    return None


def _oci_error(status: int, content_type: str, headers: Mapping[str, str], body: bytes) -> str | None:
    if content_type != "application/json":
        return f"an OCI error as {content_type!r}, not application/json: {body[:200]!r}"
    document = _json(body)
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list) or not errors:
        return f"an OCI error without an errors list: {body[:200]!r}"
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            return f"an OCI error entry without a message: {error!r}"
        if error.get("code") not in OCI_ERROR_CODES:
            return f"an OCI error with an unknown code {error.get('code')!r}"
    if status == 401 and "WWW-Authenticate" not in headers:
        return "a 401 without WWW-Authenticate"
    return None


def _json_error(content_type: str, body: bytes) -> str | None:
    document = _json(body)
    if not isinstance(document, dict) or not isinstance(document.get("__type"), str):
        return f"a JSON 1.1 error without __type: {body[:200]!r}"
    if content_type != JSON_CONTENT_TYPE:
        return f"a JSON 1.1 error as {content_type!r}"
    return None


def _query_error(content_type: str, body: bytes) -> str | None:
    root = _xml_root(body)
    if root is None or _local(root.tag) != "ErrorResponse":
        return f"a Query error that is not an <ErrorResponse>: {body[:200]!r}"
    code = next((element for element in root.iter() if _local(element.tag) == "Code"), None)
    if code is None or not (code.text or "").strip():
        return f"a Query error without <Error><Code>: {body[:200]!r}"
    if content_type != "text/xml":
        return f"a Query error as {content_type!r}"
    return None


def _raw_error(case: Case, status: int, content_type: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """A raw request answers in the shape of the door its path names: under /v2 OCI; elsewhere (the AWS APIs at /)
    the Query error, or the AWS JSON error, as application/json too: a request the parser could not read says
    nothing of which AWS protocol it spoke, and every AWS client reads `__type`."""
    path = _path_of(case.target)
    if path.startswith("/v2"):
        return _oci_error(status, content_type, headers, body)
    if status == 404 and path.partition("?")[0] not in ("/", ""):
        return None  # a path of no door (`//v2/`): there is no protocol whose shape it could take
    document = _json(body)
    if isinstance(document, dict) and isinstance(document.get("__type"), str):
        json_types = (JSON_CONTENT_TYPE, "application/json")
        return None if content_type in json_types else f"an AWS JSON error as {content_type!r}"
    return _query_error(content_type, body)


def _path_of(target: str) -> str:
    """The path of a request target, also of the absolute form a proxy sends (`http://host/v2/`)."""
    if target.startswith(("http://", "https://")):
        return "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
    return target


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _xml_root(body: bytes) -> ElementTree.Element | None:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
