"""Container images written to disk in the directory formats skopeo reads, and read back, for real-client tests.

Two formats, one interface (`Layout`):
- `OciLayout`: an OCI image layout, `oci:DIR:TAG` (`oci-layout`, `index.json`, `blobs/sha256/...`). skopeo 1.9
  reads and writes only OCI media types here.
- `DirLayout`: skopeo's own `dir:` format, one image per directory (here one subdirectory per tag). It keeps any
  media type, so Docker schema 2 manifests and manifest lists live here.

Layers are real gzipped tars of seeded pseudo-random (so incompressible) bytes: the same arguments always give
the same digests, and a client that sniffs compression sees what the media type says. Manifests are written
indented, not canonical, so a registry that re-serialised them would change their digests.

The writers return an `ImageTree`, the digests of everything written, in the shape `Layout.read_tree` and
`walk_tree` (over a registry, say) read back: a round trip is one equality.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from pullcache.core.digests import Digest

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
MANIFEST_MEDIA_TYPES: Final = INDEX_MEDIA_TYPES | {OCI.manifest, DOCKER.manifest}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}"


LINUX_AMD64: Final = Platform("linux", "amd64")
LINUX_ARM64: Final = Platform("linux", "arm64")


@dataclass(frozen=True)
class ImageTree:
    """Everything one tag reaches, by digest."""

    digest: str  # of the top manifest: an image manifest, or an index of them
    media_type: str  # of the top manifest
    manifests: frozenset[str]  # the top one included
    blobs: frozenset[str]  # configs and layers
    layers: Mapping[str, tuple[str, ...]]  # image manifest digest -> its layer digests, in order
    platforms: Mapping[str, str]  # "os/architecture" -> image manifest digest, as an index lists them

    @property
    def children(self) -> frozenset[str]:
        """The manifests below the top one (none for a single image)."""
        return self.manifests - {self.digest}


ManifestFetcher = Callable[[str], tuple[bytes, str | None]]
"""A manifest by digest: its bytes, and its media type when the source states one apart from the body."""


def walk_tree(digest: str, media_type: str, fetch: ManifestFetcher) -> ImageTree:
    """The ImageTree under the manifest `digest` of `media_type`, fetching each manifest with `fetch`.

    Raises AssertionError when a manifest does not hash to its digest, or its stated or declared media type
    is not the one its parent (or the caller, for the top) gave.
    """
    manifests: set[str] = set()
    blobs: set[str] = set()
    layers: dict[str, tuple[str, ...]] = {}
    platforms: dict[str, str] = {}
    pending = [(digest, media_type)]
    while pending:
        current, expected_type = pending.pop()
        content, stated_type = fetch(current)
        assert str(Digest.of(content)) == current, f"manifest {current} arrived as other bytes"
        document = json.loads(content)
        for found in (stated_type, document.get("mediaType")):
            assert found in (None, expected_type), f"{current} is {found}, expected {expected_type}"
        manifests.add(current)
        if expected_type in INDEX_MEDIA_TYPES:
            for child in document["manifests"]:
                pending.append((child["digest"], child["mediaType"]))
                platforms[f"{child['platform']['os']}/{child['platform']['architecture']}"] = child["digest"]
        else:
            layers[current] = tuple(layer["digest"] for layer in document["layers"])
            blobs.update([document["config"]["digest"], *layers[current]])
    return ImageTree(digest, media_type, frozenset(manifests), frozenset(blobs), layers, platforms)


class Layout(Protocol):
    """A directory of tagged images in a format skopeo reads and writes."""

    root: Path

    def reference(self, tag: str) -> str:
        """The image name skopeo gives `tag` here (`transport:details`)."""
        ...

    def read_tree(self, tag: str) -> ImageTree:
        """What `tag` reaches, each manifest and blob checked against its digest; raises AssertionError."""
        ...

    def writer(self, tag: str) -> ImageWriter:
        """Where the content of `tag` goes."""
        ...


class ImageWriter(Protocol):
    """Stores one tag's content in a layout."""

    def put_blob(self, data: bytes) -> None: ...

    def put_child_manifest(self, content: bytes) -> None:
        """A manifest an index lists."""
        ...

    def put_top_manifest(self, content: bytes, media_type: str) -> None:
        """The manifest the tag names; written last, once everything it reaches is stored."""
        ...


def write_image(
    layout: Layout,
    tag: str,
    layer_sizes: Sequence[int],
    *,
    seed: int = 0,
    media_types: MediaTypes = OCI,
    platform: Platform = LINUX_AMD64,
) -> ImageTree:
    """Write one single-platform image as `tag` in `layout`.

    `layer_sizes` are the random payload bytes of each layer; the gzipped tar around them is slightly larger.
    Images of different seeds share no layers.
    """
    writer = layout.writer(tag)
    image = _write_image_content(writer, layer_sizes, seed, media_types, platform)
    writer.put_top_manifest(image.content, media_types.manifest)
    return image.tree(media_types.manifest)


def write_index(
    layout: Layout,
    tag: str,
    layer_sizes: Sequence[int],
    *,
    seed: int = 0,
    media_types: MediaTypes = OCI,
    platforms: Sequence[Platform] = (LINUX_AMD64, LINUX_ARM64),
) -> ImageTree:
    """Write a multi-platform index (a manifest list, for Docker media types) as `tag` in `layout`.

    Each platform gets its own image manifest, config and layers of `layer_sizes`; none are shared.
    """
    writer = layout.writer(tag)
    images = [_write_image_content(writer, layer_sizes, seed, media_types, p) for p in platforms]
    for image in images:
        writer.put_child_manifest(image.content)
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.index,
        "manifests": [
            {
                "mediaType": media_types.manifest,
                "digest": image.digest,
                "size": len(image.content),
                "platform": {"architecture": platform.architecture, "os": platform.os},
            }
            for image, platform in zip(images, platforms, strict=True)
        ],
    }
    content = _manifest_bytes(document)
    writer.put_top_manifest(content, media_types.index)
    children = [image.tree(media_types.manifest) for image in images]
    digest = str(Digest.of(content))
    return ImageTree(
        digest,
        media_types.index,
        frozenset({digest, *(child.digest for child in children)}),
        frozenset().union(*(child.blobs for child in children)),
        {child.digest: child.layers[child.digest] for child in children},
        {str(platform): child.digest for platform, child in zip(platforms, children, strict=True)},
    )


class OciLayout:
    """An OCI image layout; tags are `org.opencontainers.image.ref.name` annotations in index.json."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def reference(self, tag: str) -> str:
        return f"oci:{self.root}:{tag}"

    def writer(self, tag: str) -> ImageWriter:
        return _OciWriter(self.root, tag)

    def read_tree(self, tag: str) -> ImageTree:
        index = json.loads((self.root / "index.json").read_bytes())
        tagged = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag]
        assert len(tagged) == 1, f"{self.root} tags {tag!r} {len(tagged)} times"
        tree = walk_tree(tagged[0]["digest"], tagged[0]["mediaType"], lambda digest: (self._blob(digest), None))
        for blob in tree.blobs:
            self._blob(blob)
        return tree

    def _blob(self, digest: str) -> bytes:
        algorithm, encoded = digest.split(":", 1)
        return _checked(self.root / "blobs" / algorithm / encoded, digest)


class DirLayout:
    """skopeo's `dir:` format, one subdirectory per tag: `manifest.json` is the top manifest, an index's
    children are `<hex>.manifest.json`, blobs are `<hex>`."""

    VERSION: Final = "Directory Transport Version: 1.1\n"

    def __init__(self, root: Path) -> None:
        # skopeo creates the image's directory but not its parent.
        root.mkdir(parents=True, exist_ok=True)
        self.root = root

    def reference(self, tag: str) -> str:
        return f"dir:{self.root / tag}"

    def writer(self, tag: str) -> ImageWriter:
        return _DirWriter(self.root / tag)

    def read_tree(self, tag: str) -> ImageTree:
        directory = self.root / tag
        top = (directory / "manifest.json").read_bytes()
        top_digest = str(Digest.of(top))

        def fetch(digest: str) -> tuple[bytes, str | None]:
            path = directory / "manifest.json" if digest == top_digest else directory / _dir_manifest_name(digest)
            return _checked(path, digest), None

        tree = walk_tree(top_digest, json.loads(top)["mediaType"], fetch)
        for blob in tree.blobs:
            _checked(directory / _hex(blob), blob)
        return tree


@dataclass(frozen=True, slots=True)
class _WrittenImage:
    content: bytes  # of its manifest
    config: str
    layers: tuple[str, ...]

    @property
    def digest(self) -> str:
        return str(Digest.of(self.content))

    def tree(self, media_type: str) -> ImageTree:
        return ImageTree(
            self.digest,
            media_type,
            frozenset({self.digest}),
            frozenset({self.config, *self.layers}),
            {self.digest: self.layers},
            {},
        )


def _write_image_content(
    writer: ImageWriter, layer_sizes: Sequence[int], seed: int, media_types: MediaTypes, platform: Platform
) -> _WrittenImage:
    """Store the config and layers of one image; return its manifest, not yet stored."""
    tars = [_tar_of_random_bytes(size, f"{seed}/{platform}/{n}") for n, size in enumerate(layer_sizes)]
    layers = [_gzip(tar) for tar in tars]
    config = _config_bytes(platform, [str(Digest.of(tar)) for tar in tars])
    for blob in (config, *layers):
        writer.put_blob(blob)
    document = {
        "schemaVersion": 2,
        "mediaType": media_types.manifest,
        "config": _descriptor(media_types.config, config),
        "layers": [_descriptor(media_types.layer, layer) for layer in layers],
    }
    return _WrittenImage(
        _manifest_bytes(document), str(Digest.of(config)), tuple(str(Digest.of(layer)) for layer in layers)
    )


class _OciWriter:
    def __init__(self, root: Path, tag: str) -> None:
        self._root = root
        self._tag = tag
        self._blobs = root / "blobs" / "sha256"
        self._blobs.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

    def put_blob(self, data: bytes) -> None:
        (self._blobs / Digest.of(data).encoded).write_bytes(data)

    def put_child_manifest(self, content: bytes) -> None:
        self.put_blob(content)

    def put_top_manifest(self, content: bytes, media_type: str) -> None:
        """Store the manifest and point the tag at it in index.json, replacing what it pointed at before."""
        self.put_blob(content)
        index_path = self._root / "index.json"
        index: dict[str, Any] = (
            json.loads(index_path.read_bytes()) if index_path.exists() else {"schemaVersion": 2, "manifests": []}
        )
        kept = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) != self._tag]
        tagged = {**_descriptor(media_type, content), "annotations": {REF_NAME: self._tag}}
        index["manifests"] = [*kept, tagged]
        index_path.write_text(json.dumps(index))


class _DirWriter:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "version").write_text(DirLayout.VERSION)

    def put_blob(self, data: bytes) -> None:
        (self._directory / Digest.of(data).encoded).write_bytes(data)

    def put_child_manifest(self, content: bytes) -> None:
        (self._directory / _dir_manifest_name(str(Digest.of(content)))).write_bytes(content)

    def put_top_manifest(self, content: bytes, media_type: str) -> None:
        # dir: takes the media type from the manifest itself, which our manifests always declare.
        assert json.loads(content)["mediaType"] == media_type
        (self._directory / "manifest.json").write_bytes(content)


def _checked(path: Path, digest: str) -> bytes:
    assert path.is_file(), f"{path} ({digest}) is missing"
    data = path.read_bytes()
    assert str(Digest.of(data)) == digest, f"{path} does not hold {digest}"
    return data


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def _dir_manifest_name(digest: str) -> str:
    return f"{_hex(digest)}.manifest.json"


def _descriptor(media_type: str, content: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(Digest.of(content)), "size": len(content)}


def _tar_of_random_bytes(size: int, seed: str) -> bytes:
    """A tar holding one file of `size` pseudo-random bytes from `seed`, with fixed metadata."""
    payload = random.Random(seed).randbytes(size)
    info = tarfile.TarInfo(f"data/{Digest.of(seed.encode()).encoded[:16]}.bin")
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


def _config_bytes(platform: Platform, diff_ids: Sequence[str]) -> bytes:
    config = {
        "created": EPOCH,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": EPOCH, "created_by": f"layer {n}"} for n in range(len(diff_ids))],
    }
    return json.dumps(config, sort_keys=True).encode()


def _manifest_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=3).encode() + b"\n"
