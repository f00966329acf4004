"""The names of what the benchmark measures, as they appear in its table and its JSON."""

from __future__ import annotations

from typing import Final

PUSH: Final = "push_mb_s"
PULL: Final = "pull_mb_s"
BLOB_GET: Final = "blob_get_rps"
MANIFEST_BY_TAG: Final = "manifest_tag_rps"
MANIFEST_BY_DIGEST: Final = "manifest_digest_rps"

REGISTRY_METRICS: Final = (PUSH, PULL, BLOB_GET, MANIFEST_BY_TAG, MANIFEST_BY_DIGEST)

LABELS: Final = {
    PUSH: "push image, MB/s",
    PULL: "pull image (warm), MB/s",
    BLOB_GET: "GET small blob, req/s",
    MANIFEST_BY_TAG: "GET manifest by tag, req/s",
    MANIFEST_BY_DIGEST: "GET manifest by digest, req/s",
}

# What a figure cost the server, in CPU time.
COST_LABELS: Final = {
    PUSH: "push, CPU s per GB",
    PULL: "pull, CPU s per GB",
    BLOB_GET: "GET small blob, CPU us per request",
    MANIFEST_BY_TAG: "GET manifest by tag, CPU us per request",
    MANIFEST_BY_DIGEST: "GET manifest by digest, CPU us per request",
}

# The client's ceilings, recorded as targets of their own with the PULL metric.
CLIENT_SENDFILE: Final = "client-ceiling-sendfile"
CLIENT_HASH: Final = "client-ceiling-hash"
CEILING_LABELS: Final = {
    CLIENT_SENDFILE: "client pull from a plain sendfile server, MB/s",
    CLIENT_HASH: "client hash from the page cache (no network), MB/s",
}
