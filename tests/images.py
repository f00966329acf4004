"""Container images written as OCI image layouts on disk, and read back, for tests that drive real clients.

A layout is what skopeo reads and writes as `oci:DIR:TAG`: an `oci-layout` marker, `index.json` naming each
tag's top manifest, and every manifest and blob under `blobs/sha256/`. Layers are real gzipped tars of seeded
pseudo-random (so incompressible) bytes: the same arguments always give the same digests, and clients that
sniff compression see what the media type says. Manifests are written indented, not canonical, so a registry
that re-serialised them would change their digests.

Every writer returns an `ImageTree`: the digests of everything it wrote, in the shape `read_layout_tree` (and
a registry walker) reads back, so a round trip is one equality.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

LAYOUT_VERSION: Final = "1.0.0"
REF_NAME: Final = "org.opencontainers.image.ref.name"
EPOCH: Final = "1970-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class MediaTypes:
    """The media types of one manifest family."""

    manifest: str
    index: str
    config: str
    layer: str


OCI: Final = MediaTypes(
    manifest="application/vnd.oci.image.manifest.v1+json",
    index="application/vnd.oci.image.index.v1+json",
    config="application/vnd.oci.image.config.v1+json",
    layer="application/vnd.oci.image.layer.v1.tar+gzip",
)
DOCKER: Final = MediaTypes(
    manifest="application/vnd.docker.distribution.manifest.v2+json",
    index="application/vnd.docker.distribution.manifest.list.v2+json",
    config="application/vnd.docker.container.image.v1+json",
    layer="application/vnd.docker.image.rootfs.diff.tar.gzip",
)
INDEX_MEDIA_TYPES: Final = frozenset({OCI.index, DOCKER.index})


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}"


LINUX_AMD64: Final = Platform("linux", "amd64")
LINUX_ARM64: Final = Platform("linux", "arm64")


@dataclass(frozen=True, slots=True)
class ImageTree:
    """Everything one tag reaches: its top manifest, every manifest below it, every blob they reference."""

    digest: str  # of the top manifest (an image manifest or an index)
    media_type: str
    manifests: frozenset[str]  # the top manifest's digest included
    blobs: frozenset[str]  # configs and layers

    @property
    def children(self) -> frozenset[str]:
        """The manifests below the top one (empty for a single image)."""
        return self.manifests - {self.digest}


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def write_image(
    layout: Path,
    tag: str,
    layer_sizes: Sequence[int],
    *,
    seed: int = 0,
    media_types: MediaTypes = OCI,
    platform: Platform = LINUX_AMD64,
) -> ImageTree:
    """Write one single-platform image manifest into `layout` (created or added to) and tag it `tag`.

    `layer_sizes` are the random payload bytes of each layer; the gzipped tar around them is slightly larger.
    """
    writer = _LayoutWriter(layout)
    image = writer.image(layer_sizes, seed, media_types, platform)
    writer.tag(tag, image.descriptor)
    return ImageTree(image.descriptor.digest, media_types.manifest, frozenset({image.descriptor.digest}), image.blobs)


def write_index(
    layout: Path,
    tag: str,
    layer_sizes: Sequence[int],
    *,
    seed: int = 0,
    media_types: MediaTypes = OCI,
    platforms: Sequence[Platform] = (LINUX_AMD64, LINUX_ARM64),
) -> ImageTree:
    """Write a multi-platform index (or Docker manifest list) into `layout` and tag it `tag`.

    Each platform gets its own image manifest, config and layers of `layer_sizes`, none shared.
    """
    writer = _LayoutWriter(layout)
    images = [writer.image(layer_sizes, seed, media_types, platform) for platform in platforms]
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.index,
        "manifests": [
            {**image.descriptor.as_json(), "platform": {"architecture": p.architecture, "os": p.os}}
            for image, p in zip(images, platforms, strict=True)
        ],
    }
    index = writer.blob(_manifest_bytes(document), media_types.index)
    writer.tag(tag, index)
    return ImageTree(
        index.digest,
        media_types.index,
        frozenset({index.digest, *(image.descriptor.digest for image in images)}),
        frozenset().union(*(image.blobs for image in images)),
    )


def read_layout_tree(layout: Path, tag: str) -> ImageTree:
    """Walk what `tag` reaches in the layout at `layout`; raises AssertionError if a blob is missing or corrupt."""
    index = json.loads((layout / "index.json").read_bytes())
    tagged = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag]
    assert len(tagged) == 1, f"{layout} tags {tag!r} {len(tagged)} times"

    def fetch(digest: str) -> tuple[bytes, str | None]:
        return read_layout_blob(layout, digest), None

    return walk_tree(tagged[0]["digest"], tagged[0]["mediaType"], fetch)


def read_layout_blob(layout: Path, digest: str) -> bytes:
    """The bytes of `digest` in the layout, checked against it."""
    algorithm, encoded = digest.split(":", 1)
    data = (layout / "blobs" / algorithm / encoded).read_bytes()
    assert sha256(data) == digest, f"blob {digest} in {layout} holds other bytes"
    return data


ManifestFetcher = Callable[[str], tuple[bytes, str | None]]
"""Fetch a manifest by digest: its bytes, and its media type when the source states one apart from the body."""


def walk_tree(digest: str, media_type: str, fetch: ManifestFetcher) -> ImageTree:
    """The ImageTree under the manifest `digest`, fetching each manifest with `fetch`.

    Raises AssertionError when a manifest does not hash to its digest or a stated media type disagrees with
    the one its parent (or the tag) gave.
    """
    manifests: set[str] = set()
    blobs: set[str] = set()
    pending = [(digest, media_type)]
    while pending:
        current, expected_type = pending.pop()
        content, stated_type = fetch(current)
        assert sha256(content) == current, f"manifest {current} arrived as other bytes"
        assert stated_type in (None, expected_type), f"{current} is {stated_type}, expected {expected_type}"
        manifests.add(current)
        document = json.loads(content)
        if expected_type in INDEX_MEDIA_TYPES:
            pending.extend((child["digest"], child["mediaType"]) for child in document["manifests"])
        else:
            blobs.update(descriptor["digest"] for descriptor in (document["config"], *document["layers"]))
    return ImageTree(digest, media_type, frozenset(manifests), frozenset(blobs))


@dataclass(frozen=True, slots=True)
class _Descriptor:
    media_type: str
    digest: str
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True, slots=True)
class _Image:
    descriptor: _Descriptor  # of its manifest
    blobs: frozenset[str]


class _LayoutWriter:
    """Adds content-addressed blobs and tags to a layout directory, creating it on first use."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._blobs = root / "blobs" / "sha256"
        self._blobs.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": LAYOUT_VERSION}))

    def blob(self, data: bytes, media_type: str) -> _Descriptor:
        digest = sha256(data)
        (self._blobs / digest.removeprefix("sha256:")).write_bytes(data)
        return _Descriptor(media_type, digest, len(data))

    def image(self, layer_sizes: Sequence[int], seed: int, media_types: MediaTypes, platform: Platform) -> _Image:
        tars = [_tar_of_random_bytes(size, f"{seed}/{platform}/{n}") for n, size in enumerate(layer_sizes)]
        layers = [self.blob(_gzip(tar), media_types.layer) for tar in tars]
        config = self.blob(_config_bytes(platform, [sha256(tar) for tar in tars]), media_types.config)
        document = {
            "schemaVersion": 2,
            "mediaType": media_types.manifest,
            "config": config.as_json(),
            "layers": [layer.as_json() for layer in layers],
        }
        manifest = self.blob(_manifest_bytes(document), media_types.manifest)
        return _Image(manifest, frozenset({config.digest, *(layer.digest for layer in layers)}))

    def tag(self, tag: str, descriptor: _Descriptor) -> None:
        """Point `tag` at `descriptor` in index.json, replacing what it pointed at before."""
        index_path = self._root / "index.json"
        index: dict[str, Any] = (
            json.loads(index_path.read_bytes()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
        )
        kept = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) != tag]
        index["manifests"] = [*kept, {**descriptor.as_json(), "annotations": {REF_NAME: tag}}]
        index_path.write_text(json.dumps(index))


def _tar_of_random_bytes(size: int, seed: str) -> bytes:
    """A tar holding one file of `size` pseudo-random bytes from `seed`, with fixed metadata."""
    payload = random.Random(seed).randbytes(size)
    info = tarfile.TarInfo(f"data/{hashlib.sha256(seed.encode()).hexdigest()[:16]}.bin")
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    # Random bytes do not compress: the fastest level costs nothing in size.
    return gzip.compress(data, compresslevel=1, mtime=0)


def _config_bytes(platform: Platform, diff_ids: Iterable[str]) -> bytes:
    diff_ids = list(diff_ids)
    config = {
        "created": EPOCH,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": EPOCH, "created_by": f"layer {n}"} for n in range(len(diff_ids))],
    }
    return json.dumps(config, sort_keys=True).encode()


def _manifest_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=3).encode() + b"\n"
