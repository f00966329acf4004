"""botocore's own client half of the wire: its serializers write requests, its parsers read responses.

Whatever these accept from our protocols, the SDKs accept; whatever they write, our protocols must read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from pullcache.aws.wire import WireRequest, WireResponse


def botocore_request(operation: OperationModel, params: dict[str, Any]) -> WireRequest:
    """The request botocore sends for `params` (it serializes without validating, so bad values go through)."""
    protocol = operation.service_model.protocol
    request = create_serializer(protocol, include_validation=False).serialize_to_request(params, operation)
    body = request["body"]
    if isinstance(body, dict):  # the Query serializer leaves form encoding to the HTTP layer
        body = urlencode(body).encode()
    return WireRequest(dict(request["headers"]), body)


def botocore_parse(operation: OperationModel, response: WireResponse) -> dict[str, Any]:
    """What a botocore client makes of `response`: the output, or an `Error` for a 4xx/5xx."""
    parser = create_parser(operation.service_model.protocol)
    headers = {key.lower(): value for key, value in response.headers.items()}
    raw = {"status_code": response.http_status, "headers": headers, "body": response.body}
    parsed: dict[str, Any] = parser.parse(raw, operation.output_shape)  # type: ignore[arg-type]  # None: no output
    return parsed


def without_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
