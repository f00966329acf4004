"""SigV4 for fuzz cases: botocore's signer over any bytes, so a mutated body still carries a valid signature
and only the signature door's cases are refused for their signature."""

from __future__ import annotations

from collections.abc import Mapping

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from testkit.fuzz.world import REGION, World

PRESIGNED_EXPIRES = 300


def signed_headers(
    world: World,
    service: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
    region: str = REGION,
) -> dict[str, str]:
    """`headers` plus the SigV4 ones (Authorization, X-Amz-Date) for the request as it will be sent; `secret`
    signs with another secret (a bad signature)."""
    request = AWSRequest(method, world.url + target, dict(headers), body)
    credentials = Credentials(world.access_key_id, secret if secret is not None else world.secret_access_key)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def presigned_target(world: World, service: str, target: str, *, region: str = REGION) -> str:
    """`target` (a GET's path and query, percent-encoded) with the presigned query parameters appended."""
    request = AWSRequest("GET", world.url + target, {})
    credentials = Credentials(world.access_key_id, world.secret_access_key)
    SigV4QueryAuth(credentials, service, region, expires=PRESIGNED_EXPIRES).add_auth(request)
    url = str(request.url)
    return url[len(world.url) :]
