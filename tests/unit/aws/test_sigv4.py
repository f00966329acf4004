"""SigV4 verification: AWS's published test suite, round trips with botocore's signer, and every refusal."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.auth
import botocore.session
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials

from pullcache.aws.auth_errors import (
    AuthError,
    AwsProtocol,
    ExpiredSecurityToken,
    IncompleteSignature,
    InvalidSecurityToken,
    InvalidSignature,
    MissingAuthentication,
    PayloadHashMismatch,
    PresignedUrlExpired,
    RequestTimeTooSkewed,
    SignatureMismatch,
    UnknownAccessKey,
    aws_error_for,
)
from pullcache.aws.sigv4 import (
    ParsedSignature,
    SignedRequest,
    canonical_request,
    check_request_time,
    parse_signature,
    string_to_sign,
    verify,
)

# The test suite's fixed inputs.
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SUITE_TOKEN = (
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUu"
    "wthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8Y"
    "QcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICC"
    "R/oLxBA=="
)
UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclasses.dataclass(frozen=True)
class SuiteCase:
    name: str
    signature: str
    path: str = "/"
    method: str = "GET"
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    signed_headers: str = "host;x-amz-date"
    body: bytes = b""
    upper_case_names: bool = False

    def request(self, signature: str | None = None) -> SignedRequest:
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={SUITE_SCOPE}, SignedHeaders={self.signed_headers}, "
            f"Signature={signature or self.signature}"
        )
        headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), *self.headers]
        if self.upper_case_names:
            headers = [(name.upper(), value) for name, value in headers]
        return SignedRequest.build(
            self.method, self.path, self.query, [*headers, ("Authorization", authorization)], self.body
        )


# AWS Signature Version 4 test suite (aws-sig-v4-test-suite, 2015-08-30), S3-only cases left out.
SUITE = [
    SuiteCase("get-vanilla", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    SuiteCase("get-vanilla-query", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    SuiteCase(
        "get-vanilla-empty-query-key",
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
        query=(("Param1", "value1"),),
    ),
    SuiteCase(
        "get-vanilla-query-order-key",
        "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
        query=(("Param1", "value2"), ("Param1", "Value1")),
    ),
    SuiteCase(
        "get-vanilla-query-order-key-case",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        query=(("Param2", "value2"), ("Param1", "value1")),
    ),
    SuiteCase(
        "get-vanilla-query-order-value",
        "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
        query=(("Param1", "value2"), ("Param1", "value1")),
    ),
    SuiteCase(
        "get-vanilla-query-unreserved",
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        query=((UNRESERVED, UNRESERVED),),
    ),
    SuiteCase(
        "get-vanilla-utf8-query",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        query=(("\u1234", "bar"),),
    ),
    SuiteCase(
        "get-unreserved", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f", path="/" + UNRESERVED
    ),
    SuiteCase("get-utf8", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85", path="/\u1234"),
    SuiteCase("get-space", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741", path="/example space/"),
    SuiteCase(
        "get-header-key-duplicate",
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        headers=(("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")),
        signed_headers="host;my-header1;x-amz-date",
    ),
    SuiteCase(
        "get-header-value-multiline",
        "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790",
        headers=(("My-Header1", "value1,value2,value3"),),
        signed_headers="host;my-header1;x-amz-date",
    ),
    SuiteCase(
        "get-header-value-order",
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
        headers=(
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
        ),
        signed_headers="host;my-header1;x-amz-date",
    ),
    SuiteCase(
        "get-header-value-trim",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        headers=(("My-Header1", " value1"), ("My-Header2", ' "a   b   c"')),
        signed_headers="host;my-header1;my-header2;x-amz-date",
    ),
    SuiteCase("post-vanilla", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", method="POST"),
    SuiteCase(
        "post-vanilla-query",
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        method="POST",
        query=(("Param1", "value1"),),
    ),
    SuiteCase(
        "post-vanilla-empty-query-value",
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        method="POST",
        query=(("Param1", "value1"),),
    ),
    SuiteCase(
        "post-vanilla-query-nonunreserved",
        "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e",
        method="POST",
        query=(("@#$%^", ""), ("+", '/,?><`";:\\|][{}')),
    ),
    SuiteCase(
        "post-header-key-case",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        method="POST",
        upper_case_names=True,
    ),
    SuiteCase(
        "post-header-key-sort",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
        method="POST",
        headers=(("My-Header1", "value1"),),
        signed_headers="host;my-header1;x-amz-date",
    ),
    SuiteCase(
        "post-header-value-case",
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
        method="POST",
        headers=(("My-Header1", "VALUE1"),),
        signed_headers="host;my-header1;x-amz-date",
    ),
    SuiteCase(
        "post-x-www-form-urlencoded",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        method="POST",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
        signed_headers="content-type;host;x-amz-date",
        body=b"Param1=value1",
    ),
    SuiteCase(
        "post-x-www-form-urlencoded-parameters",
        "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
        method="POST",
        headers=(("Content-Type", "application/x-www-form-urlencoded; charset=utf8"),),
        signed_headers="content-type;host;x-amz-date",
        body=b"Param1=value1",
    ),
    SuiteCase(
        "post-sts-header-after", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b", method="POST"
    ),
    SuiteCase(
        "post-sts-header-before",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        method="POST",
        headers=(("X-Amz-Security-Token", SUITE_TOKEN),),
        signed_headers="host;x-amz-date;x-amz-security-token",
    ),
    # normalize-path
    SuiteCase("get-relative", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", path="/example/.."),
    SuiteCase(
        "get-relative-relative",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        path="/example1/example2/../..",
    ),
    SuiteCase("get-slash", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", path="//"),
    SuiteCase("get-slash-dot-slash", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", path="/./"),
    SuiteCase(
        "get-slash-pointless-dot", "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5", path="/./example"
    ),
    SuiteCase("get-slashes", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84", path="//example//"),
]
SUITE_BY_NAME = {case.name: case for case in SUITE}

# The suite's canonical requests (.creq) for cases whose canonical form is the point of the case.
SUITE_CANONICAL_REQUESTS = {
    "get-header-value-trim": (
        'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:20150830T123600Z\n\n'
        "host;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
    "get-header-key-duplicate": (
        "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\n"
        "host;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
    "get-vanilla-query-order-key": (
        "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
    "get-vanilla-utf8-query": (
        "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
    "get-slashes": (
        "GET\n/example/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
    "get-space": (
        "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
}


@pytest.mark.parametrize("case", SUITE, ids=lambda case: case.name)
def test_suite_signature_is_accepted(case: SuiteCase) -> None:
    request = case.request()

    verify(request, parse_signature(request), SUITE_SECRET, SUITE_TIME)


@pytest.mark.parametrize("case", SUITE, ids=lambda case: case.name)
def test_suite_request_with_a_changed_signature_is_refused(case: SuiteCase) -> None:
    wrong = ("0" if case.signature[0] != "0" else "1") + case.signature[1:]
    request = case.request(wrong)

    with pytest.raises(SignatureMismatch):
        verify(request, parse_signature(request), SUITE_SECRET, SUITE_TIME)


@pytest.mark.parametrize(("name", "expected"), SUITE_CANONICAL_REQUESTS.items())
def test_canonical_request_matches_suite(name: str, expected: str) -> None:
    request = SUITE_BY_NAME[name].request()

    assert canonical_request(request, parse_signature(request)) == expected


def test_string_to_sign_matches_suite() -> None:
    request = SUITE_BY_NAME["get-vanilla"].request()
    parsed = parse_signature(request)

    assert string_to_sign(parsed, canonical_request(request, parsed)) == (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )


def test_mismatch_carries_the_canonical_request_and_string_to_sign_as_aws_shows_them() -> None:
    request = SUITE_BY_NAME["get-vanilla"].request("0" * 64)
    parsed = parse_signature(request)

    with pytest.raises(SignatureMismatch) as refused:
        verify(request, parsed, SUITE_SECRET, SUITE_TIME)

    canonical = canonical_request(request, parsed)
    assert refused.value.canonical_request == canonical
    assert refused.value.message == (
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.\n\n"
        f"The Canonical String for this request should have been\n'{canonical}'\n\n"
        f"The String-to-Sign should have been\n'{string_to_sign(parsed, canonical)}'\n"
    )


# Round trips with botocore's signer.

SIGNED_AT = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
ACCESS_KEY = "ASIAPULLCACHETEST001"
SECRET = "pullcache/secret+key/for/tests0000000000"
SESSION_TOKEN = "FwoGZXIvYXdzEPULLCACHE//session/token=="
TEMPORARY = Credentials(ACCESS_KEY, SECRET, SESSION_TOKEN)


@pytest.fixture(autouse=True)
def botocore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore signs at SIGNED_AT; it reads the clock as naive UTC."""
    naive = SIGNED_AT.replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_args, **_kwargs: naive)


@dataclasses.dataclass(frozen=True)
class Call:
    service: str
    url: str
    headers: dict[str, str]
    body: bytes


CALLS = [
    Call(
        "ecr",
        "https://api.ecr.us-east-1.amazonaws.com/",
        {
            "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
            "Content-Type": "application/x-amz-json-1.1",
        },
        b'{"repositoryNames": ["team/app"]}',
    ),
    Call(
        "iam",
        "https://iam.amazonaws.com/",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"Action=CreateUser&UserName=build%20bot&Version=2010-05-08",
    ),
    Call(
        "sts",
        "https://sts.us-east-1.amazonaws.com/",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"Action=GetCallerIdentity&Version=2011-06-15",
    ),
]


def as_received(method: str, url: str, headers: Iterable[tuple[str, str | bytes]], body: object) -> SignedRequest:
    """The request as a server sees it: the client library adds Host, the server decodes the query."""
    parts = urlsplit(url)
    received = [(name, value.decode() if isinstance(value, bytes) else value) for name, value in headers]
    if not any(name.lower() == "host" for name, _ in received):
        received.append(("Host", parts.netloc))
    raw_body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
    query = parse_qsl(parts.query, keep_blank_values=True)
    return SignedRequest.build(method, parts.path or "/", query, received, raw_body)


def signed(call: Call, credentials: Credentials = TEMPORARY, headers: dict[str, str] | None = None) -> SignedRequest:
    aws_request = AWSRequest("POST", call.url, {**call.headers, **(headers or {})}, call.body)
    SigV4Auth(credentials, call.service, "us-east-1").add_auth(aws_request)
    return as_received("POST", call.url, aws_request.headers.items(), aws_request.body)


def presigned_url(expires: int = 60) -> str:
    aws_request = AWSRequest("GET", "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15")
    SigV4QueryAuth(TEMPORARY, "sts", "us-east-1", expires=expires).add_auth(aws_request)
    assert aws_request.url is not None
    return aws_request.url


def accept(request: SignedRequest, now: datetime = SIGNED_AT, secret: str = SECRET) -> ParsedSignature:
    parsed = parse_signature(request)
    verify(request, parsed, secret, now)
    return parsed


@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.service)
def test_botocore_signed_request_with_session_token_is_accepted(call: Call) -> None:
    parsed = accept(signed(call))

    assert parsed.access_key_id == ACCESS_KEY
    assert (parsed.scope.date, parsed.scope.region, parsed.scope.service) == ("20260314", "us-east-1", call.service)
    assert parsed.security_token == SESSION_TOKEN
    assert parsed.request_time == SIGNED_AT
    assert not parsed.presigned
    assert "x-amz-security-token" in parsed.signed_headers


def test_botocore_signed_request_with_long_term_key_has_no_session_token() -> None:
    parsed = accept(signed(CALLS[0], Credentials(ACCESS_KEY, SECRET)))

    assert parsed.security_token is None


def test_botocore_request_dated_by_http_date_header_is_accepted() -> None:
    request = signed(CALLS[2], headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})

    assert request.find_header("x-amz-date") is None
    assert accept(request).request_time == SIGNED_AT


def test_percent_encoded_path_is_encoded_once_more_as_botocore_signs_it() -> None:
    url = "https://example.amazonaws.com/repos/team%2Fapp/tags/a%20b/%E1%88%B4"
    aws_request = AWSRequest("GET", url)
    SigV4Auth(TEMPORARY, "service", "us-east-1").add_auth(aws_request)
    request = as_received("GET", url, aws_request.headers.items(), b"")
    parsed = accept(request)

    assert canonical_request(request, parsed).split("\n")[1] == "/repos/team%252Fapp/tags/a%2520b/%25E1%2588%25B4"


def replace_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    headers = tuple((key, value if key.lower() == name else old) for key, old in request.headers)
    return dataclasses.replace(request, headers=headers)


TAMPERINGS: dict[str, Callable[[SignedRequest], SignedRequest]] = {
    "body": lambda request: dataclasses.replace(request, body_sha256=hashlib.sha256(b"{}").hexdigest()),
    "signed header": lambda request: replace_header(request, "content-type", "application/json"),
    "session token": lambda request: replace_header(request, "x-amz-security-token", "another-token"),
    "date header": lambda request: replace_header(request, "x-amz-date", "20260314T092754Z"),
    "path": lambda request: dataclasses.replace(request, raw_path="/admin"),
    "query": lambda request: dataclasses.replace(request, query=(("Action", "DeleteUser"),)),
    "method": lambda request: dataclasses.replace(request, method="PUT"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.service)
def test_tampered_botocore_request_is_refused_as_signature_mismatch(
    call: Call, tamper: Callable[[SignedRequest], SignedRequest]
) -> None:
    request = tamper(signed(call))

    with pytest.raises(SignatureMismatch):
        accept(request)


@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.service)
def test_botocore_request_checked_with_another_secret_is_refused(call: Call) -> None:
    with pytest.raises(SignatureMismatch):
        accept(signed(call), secret=SECRET.replace("tests", "other"))


@pytest.mark.parametrize(
    ("now", "message"),
    [
        (
            SIGNED_AT + timedelta(minutes=16),
            "Signature expired: 20260314T092653Z is now earlier than 20260314T092753Z (20260314T094253Z - 15 min.)",
        ),
        (
            SIGNED_AT - timedelta(minutes=16),
            "Signature not yet current: 20260314T092653Z is still later than 20260314T092553Z "
            "(20260314T091053Z + 15 min.)",
        ),
    ],
    ids=["16 minutes later", "16 minutes earlier"],
)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.service)
def test_botocore_request_checked_16_minutes_off_is_refused_as_skewed(call: Call, now: datetime, message: str) -> None:
    with pytest.raises(RequestTimeTooSkewed) as refused:
        accept(signed(call), now=now)

    assert refused.value.message == message


@pytest.mark.parametrize("offset", [timedelta(minutes=15), -timedelta(minutes=15)], ids=["+15 min", "-15 min"])
def test_request_exactly_15_minutes_off_is_accepted(offset: timedelta) -> None:
    accept(signed(CALLS[0]), now=SIGNED_AT + offset)


def test_declared_payload_hash_that_is_not_the_body_is_refused() -> None:
    request = signed(CALLS[0], headers={"X-Amz-Content-SHA256": hashlib.sha256(CALLS[0].body).hexdigest()})
    accept(request)
    tampered = dataclasses.replace(request, body_sha256=hashlib.sha256(b"{}").hexdigest())

    with pytest.raises(PayloadHashMismatch) as refused:
        accept(tampered)

    assert refused.value.claimed == hashlib.sha256(CALLS[0].body).hexdigest()


def test_unsigned_payload_is_accepted_whatever_the_body() -> None:
    request = signed(CALLS[0], headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})

    accept(dataclasses.replace(request, body_sha256=hashlib.sha256(b"anything").hexdigest()))


def test_presigned_url_from_botocore_is_accepted_until_it_expires() -> None:
    request = as_received("GET", presigned_url(expires=60), [], b"")

    parsed = accept(request, now=SIGNED_AT + timedelta(seconds=60))

    assert parsed.presigned
    assert parsed.expires == timedelta(seconds=60)
    assert parsed.security_token == SESSION_TOKEN
    assert parsed.signed_headers == ("host",)


def test_presigned_url_past_its_expiry_is_refused() -> None:
    request = as_received("GET", presigned_url(expires=60), [], b"")

    with pytest.raises(PresignedUrlExpired) as refused:
        accept(request, now=SIGNED_AT + timedelta(seconds=61))

    assert refused.value.expires == timedelta(seconds=60)


def test_presigned_url_valid_for_a_day_is_accepted_after_an_hour() -> None:
    request = as_received("GET", presigned_url(expires=86400), [], b"")

    accept(request, now=SIGNED_AT + timedelta(hours=1))


def test_presigned_url_dated_16_minutes_ahead_is_refused_as_skewed() -> None:
    request = as_received("GET", presigned_url(), [], b"")

    with pytest.raises(RequestTimeTooSkewed):
        accept(request, now=SIGNED_AT - timedelta(minutes=16))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda query: [(k, "DeleteUser" if k == "Action" else v) for k, v in query],
        lambda query: [*query, ("Extra", "1")],
        lambda query: [(k, "120" if k == "X-Amz-Expires" else v) for k, v in query],
        lambda query: [(k, "another-token" if k == "X-Amz-Security-Token" else v) for k, v in query],
    ],
    ids=["operation", "added parameter", "longer expiry", "session token"],
)
def test_presigned_url_with_tampered_query_is_refused(
    tamper: Callable[[list[tuple[str, str]]], list[tuple[str, str]]],
) -> None:
    request = as_received("GET", presigned_url(), [], b"")

    with pytest.raises(SignatureMismatch):
        accept(dataclasses.replace(request, query=tuple(tamper(list(request.query)))))


class Captured(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__()
        self.request = request


def capture(request: AWSPreparedRequest, **_: Any) -> None:
    raise Captured(request)


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("ecr", lambda client: client.describe_repositories(repositoryNames=["team/app"])),
        ("iam", lambda client: client.list_users(PathPrefix="/ci/")),
        ("sts", lambda client: client.get_caller_identity()),
    ],
    ids=["ecr", "iam", "sts"],
)
def test_request_as_sent_by_a_botocore_client_is_accepted(service: str, call: Callable[[Any], object]) -> None:
    client = botocore.session.get_session().create_client(
        service,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=SESSION_TOKEN,
    )
    client.meta.events.register("before-send", capture)
    with pytest.raises(Captured) as sent:
        call(client)
    wire = sent.value.request

    parsed = accept(as_received(wire.method, wire.url, wire.headers.items(), wire.body))

    assert parsed.scope.service == service


def test_presigned_url_generated_by_a_botocore_client_is_accepted() -> None:
    client: Any = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET
    )
    # Without HttpMethod botocore signs for the operation's own method, POST.
    url = client.generate_presigned_url("get_caller_identity", ExpiresIn=900, HttpMethod="GET")

    assert accept(as_received("GET", url, [], b"")).presigned


# Refusals while finding the signature, with the texts AWS sends.

DATED = [("Host", "iam.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
CREDENTIAL = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"


def header_request(authorization: str, headers: Iterable[tuple[str, str]] = DATED) -> SignedRequest:
    return SignedRequest.build("POST", "/", [], [*headers, ("Authorization", authorization)])


def query_request(**params: str) -> SignedRequest:
    return SignedRequest.build("GET", "/", list(params.items()), [("Host", "sts.amazonaws.com")])


def authorization(credential: str = CREDENTIAL, signed_headers: str = "host;x-amz-date") -> str:
    return f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed_headers}, Signature={'a' * 64}"


PRESIGN = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": CREDENTIAL,
    "X-Amz-Date": "20150830T123600Z",
    "X-Amz-SignedHeaders": "host",
    "X-Amz-Signature": "a" * 64,
}

REFUSALS: list[tuple[str, SignedRequest, type[AuthError], str]] = [
    (
        "no signature at all",
        SignedRequest.build("POST", "/", [], DATED),
        MissingAuthentication,
        "Request is missing Authentication Token",
    ),
    (
        "not a SigV4 authorization",
        header_request("Bearer abc"),
        MissingAuthentication,
        "Request is missing Authentication Token",
    ),
    (
        "header and query both",
        SignedRequest.build("GET", "/", list(PRESIGN.items()), [*DATED, ("Authorization", authorization())]),
        InvalidSignature,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    ),
    (
        "header without parameters or date",
        header_request("AWS4-HMAC-SHA256", [("Host", "iam.amazonaws.com")]),
        IncompleteSignature,
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either "
        "a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256",
    ),
    (
        "header with only a credential",
        header_request(f"AWS4-HMAC-SHA256 Credential={CREDENTIAL}"),
        IncompleteSignature,
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
        f"parameter. Authorization=AWS4-HMAC-SHA256 Credential={CREDENTIAL}",
    ),
    (
        "space after Credential=",
        header_request(f"AWS4-HMAC-SHA256 Credential= {CREDENTIAL}, SignedHeaders=host, Signature=abc"),
        IncompleteSignature,
        f"'{CREDENTIAL}' not a valid key=value pair (missing equal-sign) in Authorization header: "
        f"'AWS4-HMAC-SHA256 Credential= {CREDENTIAL}, SignedHeaders=host, Signature=abc'.",
    ),
    (
        "presigned query without credential and signature",
        query_request(**{"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Date": "20150830T123600Z"}),
        IncompleteSignature,
        "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include "
        "'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "Re-examine the query-string parameters.",
    ),
    (
        "unsupported algorithm",
        header_request(authorization().replace("SHA256", "SHA1", 1)),
        IncompleteSignature,
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1' (only AWS4-HMAC-SHA256 for now). ",
    ),
    (
        "credential of four elements",
        header_request(authorization("AKIDEXAMPLE/20150830/us-east-1/iam")),
        IncompleteSignature,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        "got 'AKIDEXAMPLE/20150830/us-east-1/iam'",
    ),
    (
        "date not in basic format",
        header_request(authorization(), [("Host", "iam.amazonaws.com"), ("X-Amz-Date", "2015-08-30T12:36:00Z")]),
        IncompleteSignature,
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    ),
    (
        "presigned expiry not a number",
        query_request(**PRESIGN, **{"X-Amz-Expires": "soon"}),
        IncompleteSignature,
        "X-Amz-Expires should be a number",
    ),
    (
        "presigned expiry in non-ASCII digits",
        query_request(**PRESIGN, **{"X-Amz-Expires": "\u00b2"}),
        IncompleteSignature,
        "X-Amz-Expires should be a number",
    ),
    (
        "presigned expiry beyond a week",
        query_request(**PRESIGN, **{"X-Amz-Expires": "604801"}),
        IncompleteSignature,
        "X-Amz-Expires must be between 1 and 604800 seconds",
    ),
    (
        "presigned expiry of zero",
        query_request(**PRESIGN, **{"X-Amz-Expires": "0"}),
        IncompleteSignature,
        "X-Amz-Expires must be between 1 and 604800 seconds",
    ),
    (
        "scope dated another day",
        header_request(authorization("AKIDEXAMPLE/20150831/us-east-1/iam/aws4_request")),
        InvalidSignature,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20150831' != '20150830', from '20150830T123600Z'.",
    ),
    (
        "scope with wrong terminator and date",
        header_request(authorization("AKIDEXAMPLE/20150831/us-east-1/iam/aws5_request")),
        InvalidSignature,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20150831' != '20150830', from '20150830T123600Z'.",
    ),
    (
        "host not signed",
        header_request(authorization(signed_headers="x-amz-date")),
        InvalidSignature,
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    ),
]


@pytest.mark.parametrize(("request_", "error", "message"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_unusable_signature_is_refused_with_aws_message(
    request_: SignedRequest, error: type[AuthError], message: str
) -> None:
    with pytest.raises(error) as refused:
        parse_signature(request_)

    assert type(refused.value) is error
    assert refused.value.message == message


def test_presigned_url_without_expiry_is_held_to_15_minutes() -> None:
    parsed = parse_signature(query_request(**PRESIGN))

    check_request_time(parsed, SUITE_TIME + timedelta(minutes=15))
    with pytest.raises(RequestTimeTooSkewed):
        check_request_time(parsed, SUITE_TIME + timedelta(minutes=16))


def test_presigned_expiry_of_a_week_is_accepted() -> None:
    assert parse_signature(query_request(**PRESIGN, **{"X-Amz-Expires": "604800"})).expires == timedelta(days=7)


def test_x_amz_date_wins_over_date_header() -> None:
    request = header_request(authorization(), [*DATED, ("Date", "Mon, 31 Aug 2015 00:00:00 GMT")])

    assert parse_signature(request).request_time == SUITE_TIME


# The per-protocol wire table.

JSON, QUERY = AwsProtocol.JSON, AwsProtocol.QUERY
INVALID = "The security token included in the request is invalid"
EXPIRED = "The security token included in the request is expired"
EXPIRED_URL = "Request has expired."
MISMATCH = SignatureMismatch("canonical", "to sign")
STALE = RequestTimeTooSkewed(SUITE_TIME, datetime(2015, 8, 30, 12, 52, tzinfo=UTC), timedelta(minutes=15))

WIRE: list[tuple[AuthError, AwsProtocol, int, str, str]] = [
    (MissingAuthentication(), JSON, 400, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    (MissingAuthentication(), QUERY, 403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
    (IncompleteSignature("x"), JSON, 400, "IncompleteSignatureException", "x"),
    (IncompleteSignature("x"), QUERY, 400, "IncompleteSignature", "x"),
    (InvalidSignature("x"), JSON, 400, "InvalidSignatureException", "x"),
    (InvalidSignature("x"), QUERY, 403, "SignatureDoesNotMatch", "x"),
    (STALE, JSON, 400, "InvalidSignatureException", STALE.message),
    (STALE, QUERY, 403, "SignatureDoesNotMatch", STALE.message),
    (PayloadHashMismatch("a", "b"), QUERY, 403, "SignatureDoesNotMatch", PayloadHashMismatch("a", "b").message),
    (UnknownAccessKey("AKID"), JSON, 400, "UnrecognizedClientException", INVALID + "."),
    (UnknownAccessKey("AKID"), QUERY, 403, "InvalidClientTokenId", INVALID + "."),
    (InvalidSecurityToken(), JSON, 400, "UnrecognizedClientException", INVALID),
    (InvalidSecurityToken(), QUERY, 403, "InvalidClientTokenId", INVALID),
    (ExpiredSecurityToken(), JSON, 400, "ExpiredTokenException", EXPIRED),
    (ExpiredSecurityToken(), QUERY, 403, "ExpiredToken", EXPIRED),
    (PresignedUrlExpired(SUITE_TIME, timedelta(seconds=60), SUITE_TIME), QUERY, 400, "RequestExpired", EXPIRED_URL),
    (PresignedUrlExpired(SUITE_TIME, timedelta(seconds=60), SUITE_TIME), JSON, 400, "RequestExpired", EXPIRED_URL),
    (MISMATCH, JSON, 400, "InvalidSignatureException", MISMATCH.message),
    (MISMATCH, QUERY, 403, "SignatureDoesNotMatch", MISMATCH.message),
]


@pytest.mark.parametrize(
    ("error", "protocol", "status", "code", "message"),
    WIRE,
    ids=[f"{type(row[0]).__name__}-{row[1]}" for row in WIRE],
)
def test_auth_error_renders_as_aws_does(
    error: AuthError, protocol: AwsProtocol, status: int, code: str, message: str
) -> None:
    spec = aws_error_for(error, protocol)

    assert (spec.http_status, spec.error_code, spec.message) == (status, code, message)


def test_skew_message_reads_as_aws_writes_it() -> None:
    assert STALE.message == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)"
    )


@pytest.mark.parametrize("protocol", list(AwsProtocol))
def test_every_auth_error_has_a_wire_form_in_every_protocol(protocol: AwsProtocol) -> None:
    for error in [row[0] for row in WIRE]:
        assert aws_error_for(error, protocol).message
