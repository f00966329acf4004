"""The error codes of the OCI distribution spec (code-1 to code-14), in the spec's order: what tests and the fuzzer
hold `/v2/` error bodies to."""

from __future__ import annotations

from typing import Final

SPEC_ERROR_CODES: Final = (
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
)
