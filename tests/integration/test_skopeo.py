"""skopeo pushes to, pulls from and deletes in pullcache: every digest survives, whatever the manifest family.

One pullcache serves the module (starting it costs more than any test); each test pushes layers of its own
seed into a repository of its own, so no test sees another's content or depends on their order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from pullcache.core.digests import Digest
from testkit.images import ImageTree
from testkit.reply import DIGEST_HEADER
from testkit.servers import PullcacheServer
from testkit.sync_client import get_manifest, list_tags, read_registry_tree
from tests.integration import skopeo
from tests.integration.image_cases import IMAGE_CASES, ImageCase

TAG: Final = "v1"


@dataclass(frozen=True, slots=True)
class Pushed:
    """An image skopeo copied from a layout on disk into pullcache as `repository:TAG`."""

    case: ImageCase
    tree: ImageTree
    server: PullcacheServer
    repository: str

    def reference(self, tag_or_digest: str = TAG, repository: str | None = None) -> str:
        return skopeo.docker_reference(self.server.address, repository or self.repository, tag_or_digest)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    started = PullcacheServer(tmp_path_factory.mktemp("pullcache") / "data", anonymous_registry=True).start()
    yield started
    started.stop()


@pytest.fixture(params=IMAGE_CASES, ids=str)
def pushed(request: pytest.FixtureRequest, server: PullcacheServer, tmp_path: Path) -> Pushed:
    case: ImageCase = request.param
    repository = f"{case.name}/{request.node.originalname}"
    source = case.layout(tmp_path / "source")
    tree = case.write(source, TAG, seed=zlib.crc32(request.node.nodeid.encode()))
    skopeo.copy_all(source.reference(TAG), skopeo.docker_reference(server.address, repository, TAG))
    return Pushed(case, tree, server, repository)


def test_pushed_image_is_served_byte_identical_with_its_media_types(pushed: Pushed) -> None:
    assert read_registry_tree(pushed.server.url, pushed.repository, TAG) == pushed.tree


def test_head_of_a_tag_states_type_digest_and_length_without_a_body(pushed: Pushed) -> None:
    reply = get_manifest(pushed.server.url, pushed.repository, TAG, method="HEAD")
    full = get_manifest(pushed.server.url, pushed.repository, pushed.tree.digest)

    assert reply.status == 200
    assert reply.body == b""
    assert reply.media_type == pushed.tree.media_type
    assert reply.headers[DIGEST_HEADER] == pushed.tree.digest
    assert int(reply.headers["Content-Length"]) == len(full.body)


def test_pulled_image_is_byte_identical_to_the_source(pushed: Pushed, tmp_path: Path) -> None:
    pulled = pushed.case.layout(tmp_path / "pulled")

    skopeo.copy_all(pushed.reference(), pulled.reference(TAG))

    assert pulled.read_tree(TAG) == pushed.tree


def test_image_pulled_by_digest_is_the_tagged_one(pushed: Pushed, tmp_path: Path) -> None:
    pulled = pushed.case.layout(tmp_path / "pulled")

    skopeo.copy_all(pushed.reference(pushed.tree.digest), pulled.reference("by-digest"))

    assert pulled.read_tree("by-digest") == pushed.tree


def test_copies_within_the_registry_add_tags_and_repositories(pushed: Pushed) -> None:
    mirror = f"{pushed.repository}/mirror"

    skopeo.copy_all(pushed.reference(), pushed.reference("v2"))
    skopeo.copy_all(pushed.reference(), pushed.reference(TAG, repository=mirror))

    assert list_tags(pushed.server.url, pushed.repository) == [TAG, "v2"]
    assert skopeo.list_tags(skopeo.docker_reference(pushed.server.address, pushed.repository)) == [TAG, "v2"]
    assert list_tags(pushed.server.url, mirror) == [TAG]
    assert read_registry_tree(pushed.server.url, pushed.repository, "v2") == pushed.tree
    assert read_registry_tree(pushed.server.url, mirror, TAG) == pushed.tree


def test_skopeo_inspect_reports_the_pushed_manifest_and_layers(pushed: Pushed) -> None:
    # Ask an index for arm64 explicitly: the report then depends on skopeo reading the index's platforms.
    architecture = "arm64" if pushed.case.multi_platform else "amd64"
    image = pushed.tree.platforms[f"linux/{architecture}"] if pushed.case.multi_platform else pushed.tree.digest

    raw = skopeo.inspect_raw(pushed.reference())
    report = skopeo.inspect(pushed.reference(), architecture=architecture)

    assert str(Digest.of(raw)) == pushed.tree.digest
    assert report["Digest"] == pushed.tree.digest
    assert (report["Os"], report["Architecture"]) == ("linux", architecture)
    assert report["Layers"] == list(pushed.tree.layers[image])


def test_delete_by_digest_leaves_the_manifest_unknown(pushed: Pushed) -> None:
    skopeo.delete(pushed.reference(pushed.tree.digest))

    by_digest = get_manifest(pushed.server.url, pushed.repository, pushed.tree.digest)
    by_tag = get_manifest(pushed.server.url, pushed.repository, TAG)
    assert (by_digest.status, by_digest.error_codes) == (404, ["MANIFEST_UNKNOWN"])
    assert (by_tag.status, by_tag.error_codes) == (404, ["MANIFEST_UNKNOWN"])
    assert TAG not in list_tags(pushed.server.url, pushed.repository)
    with pytest.raises(skopeo.SkopeoFailed, match="manifest unknown"):
        skopeo.inspect_raw(pushed.reference())
