"""A small OCI Distribution client over urllib, for tests that check what a registry serves byte for byte."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, Final

from tests.images import MANIFEST_MEDIA_TYPES, ImageTree, sha256, walk_tree

TIMEOUT: Final = 30.0
# Without every type in Accept, Distribution answers an index with one of its children, or rewrites a manifest.
ACCEPT_MANIFESTS: Final = ", ".join(sorted(MANIFEST_MEDIA_TYPES))
DIGEST_HEADER: Final = "Docker-Content-Digest"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_codes(self) -> list[str]:
        """The codes of an OCI error body, in order."""
        return [error["code"] for error in self.json()["errors"]]


def request(method: str, url: str, headers: Mapping[str, str] | None = None) -> Reply:
    """One request; an HTTP error status is a Reply, not an exception."""
    outgoing = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read())


def get_manifest(base_url: str, repository: str, reference: str, method: str = "GET") -> Reply:
    return request(method, f"{base_url}/v2/{repository}/manifests/{reference}", {"Accept": ACCEPT_MANIFESTS})


def get_blob(base_url: str, repository: str, digest: str) -> Reply:
    return request("GET", f"{base_url}/v2/{repository}/blobs/{digest}")


def list_tags(base_url: str, repository: str) -> list[str]:
    reply = request("GET", f"{base_url}/v2/{repository}/tags/list")
    assert reply.status == 200, f"tags list of {repository}: {reply.status} {reply.body!r}"
    return list(reply.json()["tags"] or [])


def read_registry_tree(base_url: str, repository: str, tag: str) -> ImageTree:
    """What `tag` reaches in the registry, every manifest and blob fetched and checked.

    Each manifest must arrive as the bytes of its digest, with `Docker-Content-Digest` naming that digest
    and `Content-Type` the media type its parent gave; each blob must hash to its digest, with the header too.
    Raises AssertionError otherwise.
    """
    tagged = get_manifest(base_url, repository, tag)
    assert tagged.status == 200, f"{repository}:{tag}: {tagged.status} {tagged.body!r}"

    def fetch(digest: str) -> tuple[bytes, str | None]:
        reply = get_manifest(base_url, repository, digest)
        assert reply.status == 200, f"manifest {digest}: {reply.status} {reply.body!r}"
        assert reply.headers[DIGEST_HEADER] == digest
        return reply.body, reply.headers.get_content_type()

    digest = sha256(tagged.body)
    assert tagged.headers[DIGEST_HEADER] == digest
    tree = walk_tree(digest, tagged.headers.get_content_type(), fetch)
    for blob in tree.blobs:
        reply = get_blob(base_url, repository, blob)
        assert reply.status == 200, f"blob {blob}: {reply.status}"
        assert sha256(reply.body) == blob, f"blob {blob} arrived as other bytes"
        assert reply.headers[DIGEST_HEADER] == blob
    return tree
