"""The one table from domain error to OCI error code and HTTP status, and the one renderer of the error body."""

from __future__ import annotations

import inspect
import json
from http import HTTPStatus
from typing import Any, Final

import pytest
from aiohttp import web

from pullcache.registry import errors
from pullcache.registry.api.errors import ERROR_TABLE, UNKNOWN_ERROR, OciError, oci_error_for, render_error
from testkit.oci_errors import SPEC_ERROR_CODES

DIGEST: Final = "sha256:" + "ab" * 32

# The error codes of the OCI distribution spec (code-1 to code-14).
SPEC_CODES: Final = SPEC_ERROR_CODES
NOTHING_RAISES_IT_YET: Final[dict[str, str]] = {}

# One example of every domain error, with the code and status a client must see for it.
EXPECTED: Final[list[tuple[errors.RegistryError, OciError]]] = [
    (errors.NameInvalid("Bad/Name"), OciError(400, "NAME_INVALID")),
    (errors.TagInvalid("-tag"), OciError(400, "TAG_INVALID")),
    (errors.DigestInvalid("bad digest", {"digest": "x"}), OciError(400, "DIGEST_INVALID")),
    (errors.SizeInvalid("size mismatch"), OciError(400, "SIZE_INVALID")),
    (errors.Unsupported("n must be a number"), OciError(400, "UNSUPPORTED")),
    (errors.NameUnknown("library/none", "123456789012"), OciError(404, "NAME_UNKNOWN")),
    (errors.NoMirrorRule("quay.io", "coreos/etcd", "123456789012"), OciError(404, "NAME_UNKNOWN")),
    (errors.BlobUnknown(DIGEST), OciError(404, "BLOB_UNKNOWN")),
    (errors.ManifestUnknown("latest"), OciError(404, "MANIFEST_UNKNOWN")),
    (errors.BlobUploadUnknown("some-id"), OciError(404, "BLOB_UPLOAD_UNKNOWN")),
    (errors.BlobUploadInvalid("malformed Content-Range"), OciError(400, "BLOB_UPLOAD_INVALID")),
    (errors.RangeInvalid("chunk out of order", 10), OciError(416, "BLOB_UPLOAD_INVALID")),
    (errors.ManifestInvalid("not JSON"), OciError(400, "MANIFEST_INVALID")),
    (errors.ManifestBlobUnknown(DIGEST), OciError(400, "MANIFEST_BLOB_UNKNOWN")),
    (errors.ManifestTooLarge(4096), OciError(413, "SIZE_INVALID")),
    (errors.TagImmutable("library/app", "1.0"), OciError(400, "TAG_INVALID")),
    (errors.Unauthorized(), OciError(401, "UNAUTHORIZED")),
    (errors.Denied("read only"), OciError(403, "DENIED")),
    (errors.Unavailable("upstream unreachable"), OciError(503, "UNSUPPORTED")),
    (errors.SourceThrottled("upstream throttles", 7.0), OciError(429, "TOOMANYREQUESTS")),
    (errors.SourceTimedOut("upstream timed out"), OciError(504, "UNSUPPORTED")),
    (errors.SourceAnswerInvalid("upstream answered 500"), OciError(502, "UNSUPPORTED")),
    (errors.BlobFillFailed("sha256:" + "a" * 64, "digest mismatch"), OciError(502, "UNSUPPORTED")),
    (errors.StorageFull(), OciError(507, "UNSUPPORTED")),
    (errors.UploadDiscarded("some-id"), OciError(507, "UNSUPPORTED")),
]
# ECR's code for a push to an immutable tag (docker prints "tag invalid: ..."): the one code outside the spec's list.
ECR_CODES: Final = ("TAG_INVALID",)


def domain_error_classes() -> set[type[errors.RegistryError]]:
    """Every error the registry's errors module defines, its base excluded."""
    return {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.RegistryError) and cls is not errors.RegistryError
    }


def body_of(response: web.Response) -> Any:
    assert isinstance(response.body, bytes)
    return json.loads(response.body)


def test_every_domain_error_class_has_an_expected_mapping_here() -> None:
    assert {type(error) for error, _ in EXPECTED} == domain_error_classes()


@pytest.mark.parametrize(("error", "expected"), EXPECTED, ids=[type(e).__name__ for e, _ in EXPECTED])
def test_domain_error_maps_to_its_oci_code_and_status(error: errors.RegistryError, expected: OciError) -> None:
    assert oci_error_for(error) == expected


@pytest.mark.parametrize(("error", "expected"), EXPECTED, ids=[type(e).__name__ for e, _ in EXPECTED])
def test_rendered_error_has_the_status_and_the_oci_body(error: errors.RegistryError, expected: OciError) -> None:
    response = render_error(error)

    assert response.status == expected.http_status
    assert response.content_type == "application/json"
    entry: dict[str, object] = {"code": expected.error_code, "message": error.message}
    if error.detail is not None:
        entry["detail"] = error.detail
    assert body_of(response) == {"errors": [entry]}


def test_table_holds_only_domain_errors_and_every_one_of_them() -> None:
    assert set(ERROR_TABLE) == domain_error_classes()


def test_subclass_of_a_mapped_error_takes_its_parents_code() -> None:
    class LayerUnknown(errors.BlobUnknown):
        pass

    assert oci_error_for(LayerUnknown(DIGEST)) == OciError(404, "BLOB_UNKNOWN")


def test_range_invalid_takes_its_own_entry_not_a_more_general_one() -> None:
    class LateChunk(errors.RangeInvalid):
        pass

    assert oci_error_for(LateChunk("late", 3)).http_status == 416


def test_unmapped_registry_error_is_an_unknown_500() -> None:
    class Unforeseen(errors.RegistryError):
        pass

    response = render_error(Unforeseen("something unforeseen"))

    assert oci_error_for(Unforeseen("x")) == UNKNOWN_ERROR == OciError(500, "UNKNOWN")
    assert response.status == 500
    assert body_of(response)["errors"][0]["code"] == "UNKNOWN"


def test_error_without_detail_renders_no_detail_field() -> None:
    body = body_of(render_error(errors.ManifestInvalid("not JSON")))

    assert body == {"errors": [{"code": "MANIFEST_INVALID", "message": "not JSON"}]}


def test_unauthorized_challenges_the_client_to_send_basic_credentials_for_the_realm() -> None:
    response = render_error(errors.Unauthorized(), realm="http://127.0.0.1:5000/")

    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="http://127.0.0.1:5000/",service="ecr.amazonaws.com"'


def test_only_a_401_carries_a_challenge() -> None:
    assert "WWW-Authenticate" not in render_error(errors.Denied("no"), realm="r").headers


def test_a_push_to_an_immutable_tag_is_worded_as_ecr_words_it() -> None:
    body = body_of(render_error(errors.TagImmutable("team/app", "1.0")))

    assert body["errors"][0]["message"] == (
        "The image tag '1.0' already exists in the 'team/app' repository and cannot be overwritten because the "
        "tag is immutable."
    )


def test_range_invalid_tells_the_client_where_the_upload_ends() -> None:
    response = render_error(errors.RangeInvalid("chunk out of order", 10))

    assert response.headers["Range"] == "0-9"
    assert body_of(response)["errors"][0]["detail"] == {"size": 10}


def test_range_invalid_on_an_empty_upload_sends_no_range() -> None:
    assert "Range" not in render_error(errors.RangeInvalid("chunk out of order", 0)).headers


def test_domain_errors_carry_facts_in_their_detail() -> None:
    assert errors.BlobUnknown(DIGEST).detail == {"digest": DIGEST}
    assert errors.BlobUploadUnknown("u").detail == {"uuid": "u"}
    assert errors.ManifestUnknown("latest").detail == {"reference": "latest"}
    assert errors.NameUnknown("a/b", "123456789012").detail == {"name": "a/b"}
    assert errors.ManifestTooLarge(4096).detail == {"limit": 4096}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(code, marks=pytest.mark.xfail(reason=NOTHING_RAISES_IT_YET[code], strict=True))
        if code in NOTHING_RAISES_IT_YET
        else code
        for code in SPEC_CODES
    ],
)
def test_every_spec_error_code_is_reachable_from_a_domain_error(code: str) -> None:
    assert code in {found.error_code for found in ERROR_TABLE.values()}


def test_every_code_the_table_answers_is_the_specs_or_ecrs() -> None:
    assert {found.error_code for found in ERROR_TABLE.values()} <= set(SPEC_CODES) | set(ECR_CODES)


@pytest.mark.parametrize(
    "error",
    [
        errors.Unavailable("upstream quay.io refused"),
        errors.SourceTimedOut("upstream quay.io\ntimed out"),
        errors.StorageFull(),
    ],
    ids=["unreachable", "timed-out", "storage-full"],
)
def test_a_server_failure_carries_its_message_in_the_status_line_too(error: errors.RegistryError) -> None:
    """skopeo, podman and docker print a 5xx as its status line alone: the reason phrase says why."""
    response = render_error(error)

    assert response.reason.startswith(f"{HTTPStatus(response.status).phrase}: ")
    assert response.reason.removeprefix(f"{HTTPStatus(response.status).phrase}: ") == " ".join(error.message.split())


def test_a_long_message_is_cut_in_the_status_line_but_not_in_the_body() -> None:
    response = render_error(errors.Unavailable("x" * 1000))

    assert len(response.reason) < 300
    assert body_of(response)["errors"][0]["message"] == "x" * 1000


def test_a_4xx_keeps_its_standard_reason_phrase() -> None:
    assert render_error(errors.ManifestUnknown("latest")).reason == "Not Found"


def test_throttling_passes_on_the_upstreams_retry_after() -> None:
    assert render_error(errors.SourceThrottled("slow down", 2.5)).headers["Retry-After"] == "3"
    assert "Retry-After" not in render_error(errors.SourceThrottled("slow down")).headers
