"""AWS Signature Version 4, checked on the server side, for every service but S3.

Three steps, in AWS's order: `parse_signature` finds the signature (the Authorization header, or the query of a
presigned URL) and checks its syntax and credential scope; the caller looks the access key (and any session token)
up; `verify` checks the request time, the payload hash and the HMAC. `check_request_time` may be called before the
key lookup, as AWS refuses a stale request before it looks at the key.

The canonical request follows AWS (and botocore) for non-S3 services: the path as received, still percent-encoded,
has its dot segments and empty segments removed and each segment percent-encoded once more; query pairs are decoded
and re-encoded with only unreserved characters left bare, then sorted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from pullcache.aws.auth_errors import (
    AMZ_DATE_FORMAT,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthentication,
    PayloadHashMismatch,
    PresignedUrlExpired,
    RequestTimeTooSkewed,
    SignatureMismatch,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
CONTENT_SHA256 = "x-amz-content-sha256"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800  # seven days: a signing key is valid for no longer
PRESIGN_PARAMETERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
HEADER_PARAMETERS = ("Credential", "Signature", "SignedHeaders")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEADER = "Authorization header"
_QUERY = "AWS query-string parameters"
Pairs = Iterable[tuple[str, str]]
Fields = tuple[str, str, str, str]  # algorithm, credential, signed headers, signature


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as received, independent of the HTTP library.

    `raw_path` is the path still percent-encoded, without the query; `query` the decoded pairs in order; `headers`
    every (name, value) as received, names in any case, repeats kept; `body_sha256` the hex sha256 of the body.
    """

    method: str
    raw_path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body_sha256: str

    @classmethod
    def build(cls, method: str, raw_path: str, query: Pairs, headers: Pairs, body: bytes = b"") -> SignedRequest:
        return cls(method, raw_path, tuple(query), tuple(headers), hashlib.sha256(body).hexdigest())

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def find_header(self, name: str) -> str | None:
        """The header's values joined with commas, or None when it was not sent."""
        values = self.header_values(name)
        return ",".join(values) if values else None

    def find_query(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)


@dataclass(frozen=True, slots=True)
class CredentialScope:
    date: str  # YYYYMMDD
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    access_key_id: str
    scope: CredentialScope
    signed_headers: tuple[str, ...]  # lower case, in the order signed
    signature: str
    request_time: datetime  # UTC, from X-Amz-Date or the Date header
    security_token: str | None
    presigned: bool
    expires: timedelta | None  # X-Amz-Expires of a presigned URL


def parse_signature(request: SignedRequest) -> ParsedSignature:
    """Find and check the signature; raises MissingAuthentication, IncompleteSignature or InvalidSignature."""
    authorization = request.find_header("authorization")
    if request.find_query("X-Amz-Algorithm") is not None:
        if authorization is not None:
            raise InvalidSignature(
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
            )
        return _parse_query(request)
    if authorization is None or not authorization.strip().startswith("AWS4-"):
        raise MissingAuthentication()
    return _parse_header(request, authorization)


def _parse_header(request: SignedRequest, authorization: str) -> ParsedSignature:
    algorithm, _, rest = authorization.strip().partition(" ")
    params: dict[str, str] = {}
    for piece in filter(None, re.split(r"[,\s]+", rest)):
        key, equals, value = piece.partition("=")
        if not equals:
            raise IncompleteSignature(
                f"'{piece}' not a valid key=value pair (missing equal-sign) in {_HEADER}: '{authorization}'."
            )
        params[key] = value
    amz_date = request.find_header("x-amz-date")
    date = amz_date or request.find_header("date")
    missing = [f"{_HEADER} requires '{name}' parameter. " for name in HEADER_PARAMETERS if not params.get(name)]
    if date is None:
        missing.append(f"{_HEADER} requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
    if date is None or missing:
        raise IncompleteSignature("".join(missing) + f"Authorization={authorization}")
    fields = (algorithm, params["Credential"], params["SignedHeaders"], params["Signature"])
    when = _parse_time(date, allow_http_date=amz_date is None)
    return _checked(fields, when, request.find_header("x-amz-security-token"), presigned=False, expires=None)


def _parse_query(request: SignedRequest) -> ParsedSignature:
    values = [request.find_query(name) or "" for name in PRESIGN_PARAMETERS]
    missing = [f"{_QUERY} must include '{name}'. " for name, v in zip(PRESIGN_PARAMETERS, values, strict=True) if not v]
    if missing:
        raise IncompleteSignature("".join(missing) + "Re-examine the query-string parameters.")
    algorithm, credential, signature, signed_headers, date = values
    when = _parse_time(date, allow_http_date=False)
    token, expires = request.find_query("X-Amz-Security-Token"), _parse_expires(request.find_query("X-Amz-Expires"))
    return _checked((algorithm, credential, signed_headers, signature), when, token, presigned=True, expires=expires)


def _checked(
    fields: Fields, when: datetime, token: str | None, *, presigned: bool, expires: timedelta | None
) -> ParsedSignature:
    algorithm, credential, signed_headers, signature = fields
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). ")
    parts = credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'"
        )
    key_id, date, region, service, terminator = parts
    problems = []
    if terminator != TERMINATOR:
        problems.append(f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'.")
    if date != when.strftime("%Y%m%d"):
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{when:%Y%m%d}', from '{when.strftime(AMZ_DATE_FORMAT)}'."
        )
    if problems:
        raise InvalidSignature(" ".join(problems))
    names = tuple(name.lower() for name in signed_headers.split(";"))
    if "host" not in names:
        raise InvalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    scope = CredentialScope(date, region, service)
    return ParsedSignature(key_id, scope, names, signature, when, token, presigned, expires)


def _parse_time(text: str, *, allow_http_date: bool) -> datetime:
    """X-Amz-Date is ISO 8601 basic format; a Date header may also be an HTTP date."""
    try:
        if _AMZ_DATE.fullmatch(text):
            return datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        if allow_http_date:
            moment = parsedate_to_datetime(text)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (TypeError, ValueError):
        pass
    raise IncompleteSignature(
        f"Date must be in ISO-8601 'basic format'. Got '{text}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _parse_expires(text: str | None) -> timedelta | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise IncompleteSignature("X-Amz-Expires should be a number")
    seconds = int(text)
    if not 1 <= seconds <= MAX_PRESIGN_EXPIRES:
        raise IncompleteSignature(f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES} seconds")
    return timedelta(seconds=seconds)


def check_request_time(parsed: ParsedSignature, now: datetime) -> None:
    """Raises RequestTimeTooSkewed or PresignedUrlExpired; `now` must be timezone-aware.

    A presigned URL with X-Amz-Expires is good until X-Amz-Date + X-Amz-Expires; any other request only within
    15 minutes of now. Neither may be dated more than 15 minutes ahead.
    """
    if parsed.request_time > now + MAX_SKEW:
        raise RequestTimeTooSkewed(parsed.request_time, now, MAX_SKEW)
    if parsed.expires is not None:
        if now > parsed.request_time + parsed.expires:
            raise PresignedUrlExpired(parsed.request_time, parsed.expires, now)
    elif parsed.request_time < now - MAX_SKEW:
        raise RequestTimeTooSkewed(parsed.request_time, now, MAX_SKEW)


def verify(request: SignedRequest, parsed: ParsedSignature, secret_access_key: str, now: datetime) -> None:
    """Accept the request or raise RequestTimeTooSkewed, PresignedUrlExpired, PayloadHashMismatch, SignatureMismatch."""
    check_request_time(parsed, now)
    canonical = canonical_request(request, parsed)
    to_sign = string_to_sign(parsed, canonical)
    key = signing_key(secret_access_key, parsed.scope)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), parsed.signature.encode()):
        raise SignatureMismatch(canonical, to_sign)


def canonical_request(request: SignedRequest, parsed: ParsedSignature) -> str:
    """Raises PayloadHashMismatch when x-amz-content-sha256 is neither the body's hash nor UNSIGNED-PAYLOAD."""
    uri, query = _canonical_uri(request.raw_path), _canonical_query(request.query, parsed.presigned)
    headers = [f"{name}:{_canonical_header_value(request, name)}" for name in parsed.signed_headers]
    signed = ";".join(parsed.signed_headers)
    return "\n".join([request.method, uri, query, *headers, "", signed, _payload_hash(request)])


def string_to_sign(parsed: ParsedSignature, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return "\n".join([ALGORITHM, parsed.request_time.strftime(AMZ_DATE_FORMAT), str(parsed.scope), digest])


def signing_key(secret_access_key: str, scope: CredentialScope) -> bytes:
    key = f"AWS4{secret_access_key}".encode()
    for part in (scope.date, scope.region, scope.service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _canonical_uri(raw_path: str) -> str:
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    return path + "/" if segments and raw_path.endswith("/") else path


def _canonical_query(pairs: Pairs, presigned: bool) -> str:
    kept = [(key, value) for key, value in pairs if not (presigned and key == "X-Amz-Signature")]
    encoded = sorted((quote(key, safe=""), quote(value, safe="")) for key, value in kept)
    return "&".join(f"{key}={value}" for key, value in encoded)


def _canonical_header_value(request: SignedRequest, name: str) -> str:
    return ",".join(" ".join(value.split()) for value in request.header_values(name))


def _payload_hash(request: SignedRequest) -> str:
    claimed = request.find_header(CONTENT_SHA256)
    if claimed is None:
        return request.body_sha256
    if claimed != UNSIGNED_PAYLOAD and claimed.lower() != request.body_sha256:
        raise PayloadHashMismatch(claimed, request.body_sha256)
    return claimed
