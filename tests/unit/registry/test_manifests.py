"""parse_manifest: what a manifest is, what it references, and every way it can be refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.registry.errors import ManifestInvalid
from pullcache.registry.manifests import ParsedManifest, parse_manifest
from tests.oci_documents import (
    DOCKER_CONFIG,
    DOCKER_FOREIGN_LAYER,
    DOCKER_LAYER,
    OCI_CONFIG,
    OCI_LAYER,
    Document,
    descriptor,
    encode,
    image_manifest,
    index,
)

CONFIG = descriptor(b"{}", OCI_CONFIG)
LAYER = descriptor(b"layer", OCI_LAYER)
CHILD = descriptor(b"child manifest", mediatypes.OCI_MANIFEST)
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"


def parse(document: Document, content_type: str | None = None) -> ParsedManifest:
    return parse_manifest(encode(document), content_type)


def refusal(document: Document | bytes, content_type: str | None = None) -> str:
    """The message of the ManifestInvalid that parsing `document` raises."""
    content = document if isinstance(document, bytes) else encode(document)
    with pytest.raises(ManifestInvalid) as raised:
        parse_manifest(content, content_type)
    return raised.value.message


# -- media types --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_type", "layer_type", "media_type"),
    [
        (OCI_CONFIG, OCI_LAYER, mediatypes.OCI_MANIFEST),
        (DOCKER_CONFIG, DOCKER_LAYER, mediatypes.DOCKER_MANIFEST),
    ],
)
def test_image_manifest_lists_its_config_then_its_layers_as_blobs(
    config_type: str, layer_type: str, media_type: str
) -> None:
    config = descriptor(b"config", config_type)
    layers = [descriptor(b"one", layer_type), descriptor(b"two", layer_type)]

    parsed = parse(image_manifest(config, layers, media_type))

    assert parsed.media_type == media_type
    assert [str(b.digest) for b in parsed.blobs] == [config["digest"], layers[0]["digest"], layers[1]["digest"]]
    assert [b.size for b in parsed.blobs] == [len(b"config"), 3, 3]
    assert [b.media_type for b in parsed.blobs] == [config_type, layer_type, layer_type]
    assert parsed.children == ()


@pytest.mark.parametrize("media_type", [mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST])
def test_index_lists_its_manifests_as_children_and_no_blobs(media_type: str) -> None:
    other = descriptor(b"other", mediatypes.OCI_MANIFEST)

    parsed = parse(index([CHILD, other], media_type))

    assert parsed.media_type == media_type
    assert [str(c.digest) for c in parsed.children] == [CHILD["digest"], other["digest"]]
    assert parsed.blobs == ()


def test_manifest_without_media_type_or_content_type_is_guessed_an_image_manifest() -> None:
    assert parse(image_manifest(CONFIG, [LAYER], media_type=None)).media_type == mediatypes.OCI_MANIFEST


def test_manifest_without_media_type_but_with_manifests_is_guessed_an_index() -> None:
    assert parse(index([CHILD], media_type=None)).media_type == mediatypes.OCI_INDEX


def test_content_type_names_the_media_type_when_the_manifest_does_not() -> None:
    document = image_manifest(descriptor(b"c", DOCKER_CONFIG), [descriptor(b"l", DOCKER_LAYER)], media_type=None)

    assert parse(document, mediatypes.DOCKER_MANIFEST).media_type == mediatypes.DOCKER_MANIFEST


def test_content_type_parameters_are_ignored() -> None:
    parsed = parse(image_manifest(CONFIG, [LAYER]), f"{mediatypes.OCI_MANIFEST}; charset=utf-8")

    assert parsed.media_type == mediatypes.OCI_MANIFEST


def test_content_type_that_contradicts_the_media_type_is_refused() -> None:
    message = refusal(image_manifest(CONFIG, [LAYER]), mediatypes.DOCKER_MANIFEST)

    assert "does not match" in message


def test_content_type_that_agrees_with_the_media_type_is_accepted() -> None:
    parsed = parse(image_manifest(CONFIG, [LAYER]), mediatypes.OCI_MANIFEST)

    assert parsed.media_type == mediatypes.OCI_MANIFEST


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/json",
        "application/vnd.oci.image.config.v1+json",
    ],
)
def test_manifest_of_an_unsupported_media_type_is_refused(media_type: str) -> None:
    assert "unsupported manifest media type" in refusal(image_manifest(CONFIG, [LAYER], media_type))


def test_unsupported_content_type_without_media_type_is_refused() -> None:
    document = image_manifest(CONFIG, [LAYER], media_type=None)

    assert "unsupported manifest media type" in refusal(document, "application/octet-stream")


def test_media_type_that_is_not_a_string_is_refused() -> None:
    assert "mediaType must be a string" in refusal(image_manifest(CONFIG, [LAYER], media_type=None) | {"mediaType": 2})


# -- the document -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"[1, 2", b'{"a": 1} trailing'])
def test_content_that_is_not_json_is_refused(content: bytes) -> None:
    assert "not valid JSON" in refusal(content)


def test_json_nested_beyond_the_parser_is_refused_not_crashed() -> None:
    assert "not valid JSON" in refusal(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize("content", [b"[]", b'"manifest"', b"2", b"null"])
def test_json_that_is_not_an_object_is_refused(content: bytes) -> None:
    assert "not a JSON object" in refusal(content)


@pytest.mark.parametrize("version", [None, 1, 3, "2", True])
def test_schema_version_other_than_2_is_refused(version: object) -> None:
    document = image_manifest(CONFIG, [LAYER])
    if version is None:
        del document["schemaVersion"]
    else:
        document["schemaVersion"] = version

    assert "schemaVersion must be 2" in refusal(document)


def test_image_manifest_without_config_is_refused() -> None:
    document = image_manifest(CONFIG, [LAYER])
    del document["config"]

    assert "config must be a descriptor" in refusal(document)


@pytest.mark.parametrize("layers", [None, {}, "layer"])
def test_image_manifest_whose_layers_are_not_a_list_is_refused(layers: object) -> None:
    document = image_manifest(CONFIG, []) | {"layers": layers}
    if layers is None:
        del document["layers"]

    assert "layers must be a list" in refusal(document)


def test_oci_image_manifest_may_have_no_layers() -> None:
    parsed = parse(image_manifest(CONFIG, []))

    assert [str(b.digest) for b in parsed.blobs] == [CONFIG["digest"]]


def test_docker_image_manifest_without_layers_is_refused() -> None:
    document = image_manifest(descriptor(b"c", DOCKER_CONFIG), [], mediatypes.DOCKER_MANIFEST)

    assert "at least one layer" in refusal(document)


def test_index_whose_manifests_are_not_a_list_is_refused() -> None:
    assert "manifests must be a list" in refusal(index([]) | {"manifests": CHILD})


# -- descriptors --------------------------------------------------------------------------------------------


def broken_layer(**changes: Any) -> Document:
    """An image manifest whose one layer has `changes` applied (None deletes a field)."""
    layer = dict(LAYER)
    for key, value in changes.items():
        if value is None:
            del layer[key]
        else:
            layer[key] = value
    return image_manifest(CONFIG, [layer])


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"digest": None}, "layers[0].digest"),
        ({"digest": "sha256:abc"}, "layers[0].digest"),
        ({"digest": "md5:" + "0" * 32}, "unsupported algorithm"),
        ({"digest": "sha256:" + "A" * 64}, "lowercase hex"),
        ({"digest": 12}, "layers[0].digest"),
        ({"size": None}, "layers[0].size"),
        ({"size": -1}, "layers[0].size"),
        ({"size": "5"}, "layers[0].size"),
        ({"size": 5.0}, "layers[0].size"),
        ({"size": True}, "layers[0].size"),
        ({"mediaType": None}, "layers[0].mediaType"),
        ({"mediaType": ""}, "layers[0].mediaType"),
        ({"mediaType": 7}, "layers[0].mediaType"),
    ],
)
def test_layer_descriptor_with_a_bad_field_is_refused_naming_the_field(changes: dict[str, Any], complaint: str) -> None:
    assert complaint in refusal(broken_layer(**changes))


@pytest.mark.parametrize("descriptor_value", ["sha256:abc", [], None])
def test_layer_that_is_not_a_descriptor_object_is_refused(descriptor_value: object) -> None:
    document = image_manifest(CONFIG, [descriptor_value])  # type: ignore[list-item]

    assert "layers[0] must be a descriptor object" in refusal(document)


def test_bad_child_descriptor_of_an_index_is_refused_naming_it() -> None:
    document = index([CHILD, dict(CHILD, size=-5)])

    assert "manifests[1].size" in refusal(document)


def test_bad_config_descriptor_is_refused_naming_it() -> None:
    assert "config.digest" in refusal(image_manifest(dict(CONFIG, digest="nope"), [LAYER]))


def test_zero_size_descriptor_is_accepted() -> None:
    empty = descriptor(b"", OCI_LAYER)

    assert parse(image_manifest(CONFIG, [empty])).blobs[1].size == 0


def test_sha512_descriptor_is_accepted() -> None:
    layer = dict(LAYER, digest=str(Digest.of(b"layer", "sha512")))

    assert parse(image_manifest(CONFIG, [layer])).blobs[1].digest == Digest.of(b"layer", "sha512")


def test_layer_with_urls_is_external_and_others_are_not() -> None:
    foreign = descriptor(b"windows base", DOCKER_FOREIGN_LAYER, urls=["https://example.com/base.tar.gz"])
    document = image_manifest(
        descriptor(b"c", DOCKER_CONFIG), [foreign, descriptor(b"l", DOCKER_LAYER)], mediatypes.DOCKER_MANIFEST
    )

    parsed = parse(document)

    assert [b.external for b in parsed.blobs] == [False, True, False]


def test_layer_with_empty_urls_is_not_external() -> None:
    parsed = parse(image_manifest(CONFIG, [dict(LAYER, urls=[])]))

    assert not parsed.blobs[1].external


# -- referrers: subject, artifactType, annotations ----------------------------------------------------------


def test_manifest_without_subject_has_none() -> None:
    assert parse(image_manifest(CONFIG, [LAYER])).subject is None


def test_subject_is_parsed_as_a_descriptor() -> None:
    subject = descriptor(b"the image", mediatypes.OCI_MANIFEST)

    parsed = parse(image_manifest(CONFIG, [LAYER], subject=subject))

    assert parsed.subject is not None
    assert str(parsed.subject.digest) == subject["digest"]


def test_subject_with_a_bad_digest_is_refused() -> None:
    subject = dict(descriptor(b"the image", mediatypes.OCI_MANIFEST), digest="sha256:short")

    assert "subject.digest" in refusal(image_manifest(CONFIG, [LAYER], subject=subject))


def test_image_manifest_reports_its_artifact_type_when_it_has_one() -> None:
    document = image_manifest(descriptor(b"{}", mediatypes.OCI_EMPTY), [LAYER], artifactType=SIGNATURE_TYPE)

    assert parse(document).artifact_type == SIGNATURE_TYPE


@pytest.mark.parametrize("artifact_type", [None, ""])
def test_image_manifest_without_artifact_type_reports_its_config_media_type(artifact_type: str | None) -> None:
    document = image_manifest(descriptor(b"{}", SIGNATURE_TYPE), [LAYER])
    if artifact_type is not None:
        document["artifactType"] = artifact_type

    assert parse(document).artifact_type == SIGNATURE_TYPE


def test_index_reports_its_artifact_type_when_it_has_one() -> None:
    assert parse(index([CHILD], artifactType=SIGNATURE_TYPE)).artifact_type == SIGNATURE_TYPE


def test_index_without_artifact_type_reports_none() -> None:
    assert parse(index([CHILD])).artifact_type is None


def test_artifact_type_that_is_not_a_string_is_refused() -> None:
    assert "artifactType must be a string" in refusal(image_manifest(CONFIG, [LAYER], artifactType=["a"]))


def test_descriptor_artifact_type_is_kept() -> None:
    child = dict(CHILD, artifactType=SIGNATURE_TYPE)

    assert parse(index([child])).children[0].artifact_type == SIGNATURE_TYPE


def test_annotations_are_kept() -> None:
    annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "com.example": ""}

    assert parse(image_manifest(CONFIG, [LAYER], annotations=annotations)).annotations == annotations


def test_manifest_without_annotations_has_none() -> None:
    assert parse(index([CHILD])).annotations == {}


@pytest.mark.parametrize("annotations", [["a"], "a=b", {"a": 1}, {"a": None}, {"a": {"b": "c"}}])
def test_annotations_that_do_not_map_strings_to_strings_are_refused(annotations: object) -> None:
    assert "annotations must map strings" in refusal(image_manifest(CONFIG, [LAYER], annotations=annotations))


def test_parsing_reads_the_bytes_as_sent_whatever_their_layout() -> None:
    document = image_manifest(CONFIG, [LAYER])
    indented = json.dumps(document, indent=7).encode()

    assert parse_manifest(indented, None) == parse(document)
