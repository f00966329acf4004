"""The registry client's blocking face, over urllib, for tests that run no event loop (beside boto3 and skopeo).

It answers with the same `Reply` as the asynchronous client (registry_client.py), read whole: an HTTP error
status is a Reply, not an exception. `read_registry_tree` fetches everything a tag reaches and checks it byte for
byte.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import Final

from multidict import CIMultiDict, CIMultiDictProxy

from pullcache.core.digests import Digest
from testkit.images import MANIFEST_MEDIA_TYPES, ImageTree, walk_tree
from testkit.reply import DIGEST_HEADER, Reply

TIMEOUT: Final = 30.0
# Without every type in Accept, Distribution answers an index with one of its children, or rewrites a manifest.
ACCEPT_MANIFESTS: Final = ", ".join(sorted(MANIFEST_MEDIA_TYPES))


def request(method: str, url: str, headers: Mapping[str, str] | None = None) -> Reply:
    """One request; an HTTP error status is a Reply, not an exception."""
    outgoing = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(outgoing, timeout=TIMEOUT) as response:
            return Reply(method, response.status, _headers(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return error_reply(method, error)


def error_reply(method: str, error: urllib.error.HTTPError) -> Reply:
    """The Reply of an answer urllib raised as an HTTPError (for a test that sent the request itself)."""
    with error:
        return Reply(method, error.code, _headers(error.headers), error.read())


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
        return reply.body, reply.media_type

    digest = str(Digest.of(tagged.body))
    assert tagged.headers[DIGEST_HEADER] == digest
    tree = walk_tree(digest, tagged.media_type, fetch)
    for blob in tree.blobs:
        reply = get_blob(base_url, repository, blob)
        assert reply.status == 200, f"blob {blob}: {reply.status}"
        assert str(Digest.of(reply.body)) == blob, f"blob {blob} arrived as other bytes"
        assert reply.headers[DIGEST_HEADER] == blob
    return tree


def _headers(message: Message) -> CIMultiDictProxy[str]:
    """urllib's headers as aiohttp gives them, so both faces answer with one Reply (repeated headers kept)."""
    return CIMultiDictProxy(CIMultiDict(message.items()))
