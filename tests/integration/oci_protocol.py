"""What the black-box protocol tests share beside the client: the documents they push, the OCI error shape, and
a server for a module.

Manifests are encoded indented, not canonically, so a registry that re-serialised them would change their
digests. The client itself is testkit's RegistryClient.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import pytest

from testkit.oci_errors import SPEC_ERROR_CODES
from testkit.registry_client import Content, RegistryClient
from testkit.reply import Reply
from testkit.servers import PullcacheServer

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"

API_VERSION_HEADER: Final = "Docker-Distribution-API-Version"
# The error codes the OCI distribution spec defines.
OCI_ERROR_CODES: Final = frozenset(SPEC_ERROR_CODES)
_NEXT_LINK: Final = re.compile(r'^<([^>]+)>; rel="next"$')


def serve_pullcache(tmp_path_factory: pytest.TempPathFactory, *extra_args: str) -> Iterator[PullcacheServer]:
    """A running `pullcache serve` over a fresh data dir, stopped when the generator closes: a fixture body.

    Its /v2/ is open to callers without credentials: these tests are about the OCI protocol alone.
    """
    server = PullcacheServer(
        tmp_path_factory.mktemp("pullcache") / "data", extra_args=extra_args, anonymous_registry=True
    ).start()
    try:
        yield server
    finally:
        server.stop()


def fresh_name(area: str) -> str:
    """A repository name no other test uses, so tests can share one server."""
    return f"{area}/{uuid.uuid4().hex[:12]}"


def oci_error_codes(reply: Reply) -> list[str]:
    """The codes of `reply`'s OCI error body; AssertionError when the body is not in the OCI error shape."""
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply
    document = reply.json()
    assert isinstance(document, dict), reply
    assert set(document) == {"errors"}, reply
    errors = document["errors"]
    assert isinstance(errors, list), reply
    assert errors, reply
    for error in errors:
        assert isinstance(error, dict), reply
        assert isinstance(error.get("code"), str), reply
        assert isinstance(error.get("message"), str), reply
        assert set(error) <= {"code", "message", "detail"}, reply
    return [error["code"] for error in errors]


def assert_oci_error(reply: Reply, status: int, code: str) -> None:
    """`reply` has `status` and, unless it answers a HEAD (which has no body), exactly the OCI error `code`."""
    assert reply.status == status, reply
    if reply.method != "HEAD":
        assert oci_error_codes(reply) == [code], reply


def next_link(reply: Reply) -> str | None:
    """The target of a `Link: <target>; rel="next"` header, or None when there is none."""
    link = reply.headers.get("Link")
    if link is None:
        return None
    match = _NEXT_LINK.match(link)
    assert match is not None, f"malformed Link header {link!r}"
    return match.group(1)


EMPTY_CONFIG: Final = Content(OCI_EMPTY, b"{}")


def random_layer(size: int = 512, media_type: str = OCI_LAYER) -> Content:
    return Content(media_type, os.urandom(size))


def unique_config(media_type: str = OCI_CONFIG) -> Content:
    """A config no other test has pushed."""
    document = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    return Content(media_type, encode({**document, "created": uuid.uuid4().hex}))


def encode(document: Mapping[str, Any]) -> bytes:
    """JSON as a client might write it: indented, with a trailing newline, not canonical."""
    return json.dumps(document, indent=3).encode() + b"\n"


def image_manifest(
    config: Content,
    layers: Sequence[Content],
    *,
    media_type: str = OCI_MANIFEST,
    artifact_type: str | None = None,
    subject: Content | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Content:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return Content(media_type, encode(_with_optionals(document, artifact_type, subject, annotations)))


def index_manifest(
    children: Sequence[Content],
    *,
    media_type: str = OCI_INDEX,
    artifact_type: str | None = None,
    subject: Content | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Content:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor(platform={"architecture": "amd64", "os": "linux"}) for child in children],
    }
    return Content(media_type, encode(_with_optionals(document, artifact_type, subject, annotations)))


def _with_optionals(
    document: dict[str, Any],
    artifact_type: str | None,
    subject: Content | None,
    annotations: Mapping[str, str] | None,
) -> dict[str, Any]:
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    if subject is not None:
        document["subject"] = subject.descriptor()
    if annotations is not None:
        document["annotations"] = dict(annotations)
    return document


async def push_image(registry: RegistryClient, name: str, *, media_type: str = OCI_MANIFEST) -> Content:
    """Push a config and one layer of a fresh image into `name` and return its (unpushed) manifest."""
    docker = media_type == DOCKER_MANIFEST
    config = unique_config(DOCKER_CONFIG if docker else OCI_CONFIG)
    layer = random_layer(media_type=DOCKER_LAYER if docker else OCI_LAYER)
    await registry.push_all(name, [config, layer])
    return image_manifest(config, [layer], media_type=media_type)
