"""EcrService over the real adapters (SQLite metadata, filesystem blobs): ECR's rules on the registry's data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.auth.registry_tokens import RegistryTokens
from pullcache.core import mediatypes
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr import errors
from pullcache.ecr.images import EcrImages, ImageRequest
from pullcache.ecr.layers import EcrLayers
from pullcache.ecr.ports import Encryption, RepositorySettings, TagStatus
from pullcache.ecr.service import EcrService
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql import SqlMetadataStore
from pullcache.metadata.sql_ecr import SqlEcrStore
from pullcache.registry.errors import TagImmutable
from pullcache.registry.manifest_writes import ManifestWrites
from pullcache.registry.pull_records import PullRecords
from pullcache.registry.service import RegistryService
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule
from pullcache.storage.filesystem import FilesystemBlobStore
from tests.oci_documents import OCI_CONFIG, OCI_LAYER, descriptor, encode, image_manifest, index
from tests.stores import AnyPusher, SqlRepositories, chunks, sqlite_url

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
ELSEWHERE: Final = RegistryScope("123456789012", "eu-west-1")
REPO: Final = "team/app"
ENDPOINT: Final = "http://127.0.0.1:5000"
TOKENS: Final = RegistryTokens(b"k" * 32)
IMMUTABLE: Final = RepositorySettings(TagMutabilityRule(TagMutability.IMMUTABLE))


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def pulls(engine: AsyncEngine) -> PullRecords:
    return PullRecords(SqlMetadataStore(engine))


@pytest.fixture
def registry(tmp_path: Path, engine: AsyncEngine, pulls: PullRecords) -> RegistryService:
    metadata = SqlMetadataStore(engine)
    # A ROOT CREATE_ON_PUSH template without settings: a /v2/ push (a pusher given) creates its repository.
    on_push = SqlRepositories(SqlEcrStore(engine))
    return RegistryService(
        FilesystemBlobStore(tmp_path / "blobs"), metadata, ManifestWrites(metadata), on_push, pulls=pulls
    )


@pytest.fixture
def ecr(engine: AsyncEngine) -> EcrService:
    return EcrService(SqlEcrStore(engine), TOKENS)


@pytest.fixture
def images(ecr: EcrService, registry: RegistryService, engine: AsyncEngine) -> EcrImages:
    return EcrImages(ecr, registry, SqlEcrStore(engine))


@pytest.fixture
def layers(ecr: EcrService, registry: RegistryService) -> EcrLayers:
    return EcrLayers(ecr, registry, TOKENS)


async def push_blob(registry: RegistryService, data: bytes, repository: str = REPO) -> Digest:
    return await registry.upload_blob(SCOPE, repository, str(Digest.of(data)), chunks(data))


async def image(registry: RegistryService, seed: str, layer_size: int = 10) -> str:
    """The text of an image manifest whose config and layer are pushed to REPO (the manifest is not)."""
    config, layer = f'{{"seed": "{seed}"}}'.encode(), seed.encode().ljust(layer_size, b".")
    await push_blob(registry, config)
    await push_blob(registry, layer)
    return encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)])).decode()


def digest_of(text: str) -> str:
    return str(Digest.of(text.encode()))


# -- repositories -------------------------------------------------------------------------------------------


async def test_a_repository_keeps_the_settings_and_tags_it_was_created_with(ecr: EcrService) -> None:
    settings = RepositorySettings(
        TagMutabilityRule(TagMutability.IMMUTABLE_WITH_EXCLUSION, ("dev-*", "latest")),
        scan_on_push=True,
        encryption=Encryption("KMS", "arn:aws:kms:us-east-1:123456789012:key/abc"),
    )
    await ecr.create_repository(SCOPE, REPO, settings, [("team", "a"), ("cost", "b")])

    found = await ecr.get_repository(SCOPE, REPO)
    assert found.settings == settings
    assert list(await ecr.list_tags_for_resource(SCOPE.repository_arn(REPO))) == [("team", "a"), ("cost", "b")]


async def test_a_name_is_taken_once_per_registry(ecr: EcrService) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])

    with pytest.raises(errors.RepositoryAlreadyExists, match="'team/app' already exists in the registry with id"):
        await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    await ecr.create_repository(ELSEWHERE, REPO, RepositorySettings(), [])


@pytest.mark.parametrize(
    "rule",
    [
        TagMutabilityRule(TagMutability.IMMUTABLE_WITH_EXCLUSION),
        TagMutabilityRule(TagMutability.MUTABLE_WITH_EXCLUSION),
        TagMutabilityRule(TagMutability.IMMUTABLE, ("dev-*",)),
    ],
)
async def test_exclusion_filters_go_with_the_exclusion_settings_only(ecr: EcrService, rule: TagMutabilityRule) -> None:
    with pytest.raises(errors.InvalidParameter, match="imageTagMutabilityExclusionFilters"):
        await ecr.create_repository(SCOPE, REPO, RepositorySettings(rule), [])


async def test_repositories_are_described_a_page_at_a_time(ecr: EcrService) -> None:
    names = [f"team/app{i}" for i in range(5)]
    for name in reversed(names):
        await ecr.create_repository(SCOPE, name, RepositorySettings(), [])

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page, token = await ecr.describe_repositories(SCOPE, None, token, 2)
        seen += [r.name for r in page]
        pages += 1
        if token is None:
            break
    assert seen == names
    assert pages == 3


async def test_describing_named_repositories_needs_every_one_to_exist(ecr: EcrService) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])

    found, token = await ecr.describe_repositories(SCOPE, [REPO], None, None)
    assert [r.name for r in found] == [REPO]
    assert token is None
    with pytest.raises(errors.RepositoryNotFound, match="'team/none' does not exist in the registry with id"):
        await ecr.describe_repositories(SCOPE, [REPO, "team/none"], None, None)
    with pytest.raises(errors.InvalidParameter):
        await ecr.describe_repositories(SCOPE, [REPO], None, 10)


async def test_a_bad_next_token_is_an_invalid_parameter(ecr: EcrService) -> None:
    with pytest.raises(errors.InvalidParameter, match="nextToken"):
        await ecr.describe_repositories(SCOPE, None, "not a token", None)


async def test_a_repository_with_images_is_deleted_only_by_force(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    await images.put_image(SCOPE, REPO, await image(registry, "a"), None, "1.0", None)

    with pytest.raises(errors.RepositoryNotEmpty, match="cannot be deleted because it still contains images"):
        await ecr.delete_repository(SCOPE, REPO, force=False)
    await ecr.delete_repository(SCOPE, REPO, force=True)

    assert await registry.find_manifest(SCOPE, REPO, "1.0") is None
    with pytest.raises(errors.RepositoryNotFound):
        await ecr.delete_repository(SCOPE, REPO, force=True)


async def test_a_repository_a_push_created_is_an_ecr_repository_with_the_defaults(
    ecr: EcrService, registry: RegistryService
) -> None:
    await registry.upload_blob(SCOPE, REPO, str(Digest.of(b"layer")), chunks(b"layer"), AnyPusher())

    found = await ecr.get_repository(SCOPE, REPO)

    assert found.settings == RepositorySettings()


# -- tag immutability ---------------------------------------------------------------------------------------


async def test_an_immutable_tag_cannot_move_through_the_api_or_the_registry(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, IMMUTABLE, [])
    first, second = await image(registry, "a"), await image(registry, "b")
    await images.put_image(SCOPE, REPO, first, None, "1.0", None)

    with pytest.raises(errors.ImageTagAlreadyExists, match="cannot be overwritten because the tag is immutable"):
        await images.put_image(SCOPE, REPO, second, None, "1.0", None)
    with pytest.raises(TagImmutable):
        await registry.put_manifest(SCOPE, REPO, "1.0", second.encode(), None)

    tagged = await registry.find_manifest(SCOPE, REPO, "1.0")
    assert tagged is not None
    assert str(tagged.digest) == digest_of(first)
    assert await registry.find_manifest(SCOPE, REPO, Digest.parse(digest_of(second))) is None


async def test_the_registry_may_push_an_immutable_tag_again_with_the_same_image(
    ecr: EcrService, registry: RegistryService
) -> None:
    await ecr.create_repository(SCOPE, REPO, IMMUTABLE, [])
    manifest = await image(registry, "a")

    await registry.put_manifest(SCOPE, REPO, "1.0", manifest.encode(), None)
    stored = await registry.put_manifest(SCOPE, REPO, "1.0", manifest.encode(), None)

    assert str(stored.digest) == digest_of(manifest)


async def test_tags_an_exclusion_filter_matches_move_freely(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    rule = TagMutabilityRule(TagMutability.IMMUTABLE_WITH_EXCLUSION, ("dev-*",))
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(rule), [])
    first, second = await image(registry, "a"), await image(registry, "b")
    for tag in ("dev-1", "1.0"):
        await images.put_image(SCOPE, REPO, first, None, tag, None)

    await images.put_image(SCOPE, REPO, second, None, "dev-1", None)
    with pytest.raises(errors.ImageTagAlreadyExists):
        await images.put_image(SCOPE, REPO, second, None, "1.0", None)


async def test_changing_the_setting_applies_to_the_next_push(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    first, second = await image(registry, "a"), await image(registry, "b")
    await images.put_image(SCOPE, REPO, first, None, "1.0", None)

    await ecr.put_tag_mutability(SCOPE, REPO, TagMutabilityRule(TagMutability.IMMUTABLE))

    with pytest.raises(errors.ImageTagAlreadyExists):
        await images.put_image(SCOPE, REPO, second, None, "1.0", None)
    with pytest.raises(errors.RepositoryNotFound):
        await ecr.put_tag_mutability(SCOPE, "team/none", TagMutabilityRule(TagMutability.IMMUTABLE))


# -- PutImage -----------------------------------------------------------------------------------------------


async def test_putting_the_same_image_under_the_same_tag_again_is_refused(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    manifest = await image(registry, "a")
    await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)

    with pytest.raises(errors.ImageAlreadyExists) as raised:
        await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)

    assert raised.value.message == (
        f"Image with digest '{digest_of(manifest)}' and tag '1.0' already exists in the repository with name "
        "'team/app' in registry with id '123456789012'"
    )
    await images.put_image(SCOPE, REPO, manifest, None, "1.1", None)  # another tag for it is fine


async def test_an_image_is_put_only_when_its_digest_matches_the_one_given(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    manifest = await image(registry, "a")

    with pytest.raises(errors.ImageDigestDoesNotMatch):
        await images.put_image(SCOPE, REPO, manifest, None, None, "sha256:" + "0" * 64)
    stored = await images.put_image(SCOPE, REPO, manifest, None, None, digest_of(manifest))

    assert str(stored.digest) == digest_of(manifest)
    assert stored.media_type == mediatypes.OCI_MANIFEST


async def test_an_image_whose_layers_are_not_in_the_repository_names_them(ecr: EcrService, images: EcrImages) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    config, layer = b"{}", b"layer"
    manifest = encode(image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)])).decode()

    with pytest.raises(errors.LayersNotFound) as raised:
        await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)

    assert raised.value.message == (
        f"Layers with digests '[{Digest.of(config)}, {Digest.of(layer)}]' required for pushing image into "
        "repository with name 'team/app' in the registry with id '123456789012' do not exist"
    )


async def test_an_index_whose_images_are_not_in_the_repository_names_them(ecr: EcrService, images: EcrImages) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    child = descriptor(b'{"absent": true}', mediatypes.OCI_MANIFEST)

    with pytest.raises(errors.ReferencedImagesNotFound, match=child["digest"]):
        await images.put_image(SCOPE, REPO, encode(index([child])).decode(), None, "1.0", None)


async def test_an_image_into_a_repository_that_does_not_exist_is_refused(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])  # where the image's blobs are pushed

    with pytest.raises(errors.RepositoryNotFound):
        await images.put_image(SCOPE, "team/none", await image(registry, "a"), None, "1.0", None)


async def test_a_manifest_that_is_not_one_is_invalid_json_syntax_to_ecr(ecr: EcrService, images: EcrImages) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])

    for manifest in ("not json", '{"schemaVersion": 2, "mediaType": "' + mediatypes.OCI_MANIFEST + '"}'):
        with pytest.raises(errors.InvalidParameter) as raised:
            await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)
        assert raised.value.message == (
            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'"
        )


async def test_a_manifest_that_does_not_say_its_media_type_needs_it_said_beside_it(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    config, layer = b"{}", b"layer"
    for blob in (config, layer):
        await push_blob(registry, blob)
    document = image_manifest(descriptor(config, OCI_CONFIG), [descriptor(layer, OCI_LAYER)], media_type=None)
    manifest = encode(document).decode()

    with pytest.raises(errors.InvalidParameter, match="Invalid JSON syntax"):
        await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)
    stored = await images.put_image(SCOPE, REPO, manifest, mediatypes.OCI_MANIFEST, "1.0", None)

    assert stored.media_type == mediatypes.OCI_MANIFEST


# -- listing and describing images --------------------------------------------------------------------------


async def test_describe_images_tells_size_tags_media_types_and_times(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    manifest = await image(registry, "a", layer_size=1000)
    await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)
    await images.put_image(SCOPE, REPO, manifest, None, "latest", None)

    [described], token = await images.describe_images(SCOPE, REPO, None, TagStatus.ANY, None, None)

    assert token is None
    assert str(described.image.digest) == digest_of(manifest)
    assert sorted(described.image.tags) == ["1.0", "latest"]
    assert described.size == len(b'{"seed": "a"}') + 1000
    assert described.image.media_type == mediatypes.OCI_MANIFEST
    assert described.artifact_media_type == OCI_CONFIG
    assert described.image.pushed_at is not None
    assert described.image.pulled_at is None


async def test_an_index_is_as_large_as_its_largest_image(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    small, large = await image(registry, "s", 10), await image(registry, "l", 5000)
    for manifest in (small, large):
        await images.put_image(SCOPE, REPO, manifest, None, None, None)
    children = [descriptor(m.encode(), mediatypes.OCI_MANIFEST) for m in (small, large)]
    await images.put_image(SCOPE, REPO, encode(index(children)).decode(), None, "multi", None)

    [described], _ = await images.describe_images(SCOPE, REPO, [ImageRequest(tag="multi")], TagStatus.ANY, None, None)

    assert described.size == len(b'{"seed": "l"}') + 5000
    assert described.artifact_media_type is None


async def test_a_pull_through_the_api_is_recorded(
    ecr: EcrService, registry: RegistryService, images: EcrImages, pulls: PullRecords
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    await images.put_image(SCOPE, REPO, await image(registry, "a"), None, "1.0", None)

    found, failures = await images.batch_get_image(SCOPE, REPO, [ImageRequest(tag="1.0")], None)
    await pulls.flush()
    [described], _ = await images.describe_images(SCOPE, REPO, [ImageRequest(tag="1.0")], TagStatus.ANY, None, None)

    assert len(found) == 1
    assert failures == []
    assert described.image.pulled_at is not None


async def test_describing_an_image_that_is_not_there_is_image_not_found(ecr: EcrService, images: EcrImages) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])

    with pytest.raises(errors.ImageNotFound) as raised:
        await images.describe_images(SCOPE, REPO, [ImageRequest(tag="none")], TagStatus.ANY, None, None)

    assert raised.value.message == (
        "The image with imageId {imageDigest:'null', imageTag:'none'} does not exist within the repository with "
        "name 'team/app' in the registry with id '123456789012'"
    )


async def test_list_images_gives_one_entry_per_tag_and_one_per_untagged_image_in_pages(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    tagged, untagged = await image(registry, "t"), await image(registry, "u")
    for tag in ("a", "b", "c"):
        await images.put_image(SCOPE, REPO, tagged, None, tag, None)
    await images.put_image(SCOPE, REPO, untagged, None, None, None)

    entries = []
    token = None
    while True:
        page, token = await images.list_images(SCOPE, REPO, TagStatus.ANY, token, 2)
        entries += [(str(e.digest), e.tag) for e in page]
        if token is None:
            break
    only_tagged, _ = await images.list_images(SCOPE, REPO, TagStatus.TAGGED, None, None)
    only_untagged, _ = await images.list_images(SCOPE, REPO, TagStatus.UNTAGGED, None, None)

    assert sorted(entries) == sorted(
        [(digest_of(tagged), "a"), (digest_of(tagged), "b"), (digest_of(tagged), "c"), (digest_of(untagged), None)]
    )
    assert len(entries) == len(set(entries)) == 4
    assert {e.tag for e in only_tagged} == {"a", "b", "c"}
    assert [(str(e.digest), e.tag) for e in only_untagged] == [(digest_of(untagged), None)]


async def test_batch_get_image_reports_what_it_cannot_give_as_failures(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    manifest = await image(registry, "a")
    await images.put_image(SCOPE, REPO, manifest, None, "1.0", None)
    requests = [
        ImageRequest(tag="1.0"),
        ImageRequest(tag="2.0"),
        ImageRequest(),
        ImageRequest(digest="sha256:xyz"),
        ImageRequest(digest=digest_of(manifest), tag="2.0"),
    ]

    found, failures = await images.batch_get_image(SCOPE, REPO, requests, None)

    assert [item.manifest.content.decode() for item in found] == [manifest]
    assert [(f.request, f.code) for f in failures] == [
        (requests[1], "ImageNotFound"),
        (requests[2], "MissingDigestAndTag"),
        (requests[3], "InvalidImageDigest"),
        (requests[4], "ImageNotFound"),
    ]
    assert failures[0].reason == "Requested image not found"


async def test_batch_get_image_gives_only_accepted_media_types(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    await images.put_image(SCOPE, REPO, await image(registry, "a"), None, "1.0", None)

    found, failures = await images.batch_get_image(SCOPE, REPO, [ImageRequest(tag="1.0")], [mediatypes.DOCKER_MANIFEST])

    assert found == []
    assert len(failures) == 1


async def test_deleting_an_images_last_tag_deletes_the_image(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    manifest = await image(registry, "a")
    for tag in ("1.0", "latest"):
        await images.put_image(SCOPE, REPO, manifest, None, tag, None)
    digest = Digest.parse(digest_of(manifest))

    deleted, failures = await images.batch_delete_image(SCOPE, REPO, [ImageRequest(tag="latest")])
    assert [(str(d.digest), d.tag) for d in deleted] == [(str(digest), "latest")]
    assert failures == []
    assert await registry.find_manifest(SCOPE, REPO, digest) is not None

    await images.batch_delete_image(SCOPE, REPO, [ImageRequest(tag="1.0")])
    assert await registry.find_manifest(SCOPE, REPO, digest) is None


async def test_deleting_by_digest_removes_the_image_and_every_tag(
    ecr: EcrService, registry: RegistryService, images: EcrImages
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    manifest = await image(registry, "a")
    for tag in ("1.0", "latest"):
        await images.put_image(SCOPE, REPO, manifest, None, tag, None)

    deleted, failures = await images.batch_delete_image(
        SCOPE, REPO, [ImageRequest(digest=digest_of(manifest)), ImageRequest(tag="gone")]
    )

    assert sorted(d.tag or "" for d in deleted) == ["1.0", "latest"]
    assert [(f.code, f.reason) for f in failures] == [("ImageNotFound", "Requested image not found")]
    assert await registry.find_manifest(SCOPE, REPO, "1.0") is None


# -- layers -------------------------------------------------------------------------------------------------


async def test_a_layer_uploaded_in_parts_is_in_the_repository(
    ecr: EcrService, registry: RegistryService, layers: EcrLayers
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    upload_id = await layers.initiate_layer_upload(SCOPE, REPO)

    assert await layers.upload_layer_part(SCOPE, REPO, upload_id, 0, 4, b"hello") == 4
    assert await layers.upload_layer_part(SCOPE, REPO, upload_id, 5, 10, b" world") == 10
    digest = await layers.complete_layer_upload(SCOPE, REPO, upload_id, [str(Digest.of(b"hello world"))])

    assert digest == Digest.of(b"hello world")
    [check] = await layers.check_layers(SCOPE, REPO, [str(digest)])
    assert (check.size, check.failure) == (11, None)


async def test_a_part_out_of_order_tells_the_last_valid_byte(ecr: EcrService, layers: EcrLayers) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    upload_id = await layers.initiate_layer_upload(SCOPE, REPO)
    await layers.upload_layer_part(SCOPE, REPO, upload_id, 0, 4, b"hello")

    # Again from the start; past the end; and a part whose length is not what its byte range says.
    for first, last, data in ((0, 4, b"hello"), (7, 8, b"xx"), (5, 9, b"four")):
        with pytest.raises(errors.InvalidLayerPart) as raised:
            await layers.upload_layer_part(SCOPE, REPO, upload_id, first, last, data)
        assert raised.value.last_valid_byte == 4


async def test_a_layer_whose_bytes_do_not_match_its_digest_is_invalid(ecr: EcrService, layers: EcrLayers) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    upload_id = await layers.initiate_layer_upload(SCOPE, REPO)
    await layers.upload_layer_part(SCOPE, REPO, upload_id, 0, 4, b"hello")

    with pytest.raises(errors.InvalidLayer):
        await layers.complete_layer_upload(SCOPE, REPO, upload_id, [str(Digest.of(b"other"))])


async def test_completing_an_empty_upload_is_refused(ecr: EcrService, layers: EcrLayers) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    upload_id = await layers.initiate_layer_upload(SCOPE, REPO)

    with pytest.raises(errors.EmptyUpload):
        await layers.complete_layer_upload(SCOPE, REPO, upload_id, [str(Digest.of(b""))])


async def test_a_layer_the_repository_has_is_not_uploaded_again(
    ecr: EcrService, registry: RegistryService, layers: EcrLayers
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    await push_blob(registry, b"hello")
    upload_id = await layers.initiate_layer_upload(SCOPE, REPO)
    await layers.upload_layer_part(SCOPE, REPO, upload_id, 0, 4, b"hello")

    with pytest.raises(errors.LayerAlreadyExists):
        await layers.complete_layer_upload(SCOPE, REPO, upload_id, [str(Digest.of(b"hello"))])


async def test_an_upload_of_another_scope_or_repository_is_not_found(ecr: EcrService, layers: EcrLayers) -> None:
    for scope in (SCOPE, ELSEWHERE):
        await ecr.create_repository(scope, REPO, RepositorySettings(), [])
    await ecr.create_repository(SCOPE, "team/other", RepositorySettings(), [])
    upload_id = await layers.initiate_layer_upload(SCOPE, REPO)

    for scope, name in ((ELSEWHERE, REPO), (SCOPE, "team/other")):
        with pytest.raises(errors.UploadNotFound):
            await layers.upload_layer_part(scope, name, upload_id, 0, 0, b"x")


async def test_layer_checks_tell_available_missing_and_malformed_digests(
    ecr: EcrService, registry: RegistryService, layers: EcrLayers
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    present = await push_blob(registry, b"present")

    checks = await layers.check_layers(SCOPE, REPO, [str(present), str(Digest.of(b"absent")), "sha256:nothex"])

    assert [(c.size, c.failure and c.failure[0]) for c in checks] == [
        (7, None),
        (None, "MissingLayerDigest"),
        (None, "InvalidLayerDigest"),
    ]


async def test_a_download_path_carries_a_grant_for_that_blob(
    ecr: EcrService, registry: RegistryService, layers: EcrLayers
) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    digest = await push_blob(registry, b"layer")

    url = await layers.download_path(SCOPE, REPO, str(digest))

    prefix = f"/v2/{REPO}/blobs/{digest}?grant="
    assert url.startswith(prefix)
    grant = TOKENS.verify_download(url.removeprefix(prefix), datetime.now(UTC))
    assert (grant.scope, grant.repository, grant.digest) == (SCOPE, REPO, str(digest))
    with pytest.raises(errors.LayersNotFound):
        await layers.download_path(SCOPE, REPO, str(Digest.of(b"absent")))


# -- policies and resource tags -----------------------------------------------------------------------------


async def test_policies_that_were_never_set_are_not_found(ecr: EcrService) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])

    with pytest.raises(errors.RepositoryPolicyNotFound, match="Repository policy does not exist"):
        await ecr.get_repository_policy(SCOPE, REPO)
    with pytest.raises(errors.RegistryPolicyNotFound, match="Registry policy does not exist in the registry with id"):
        await ecr.delete_registry_policy(SCOPE)


async def test_a_policy_set_is_got_and_deleted_once(ecr: EcrService) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])
    await ecr.set_repository_policy(SCOPE, REPO, '{"policy": 1}')
    await ecr.put_registry_policy(SCOPE, '{"registry": 1}')

    assert await ecr.delete_repository_policy(SCOPE, REPO) == '{"policy": 1}'
    assert await ecr.get_registry_policy(SCOPE) == '{"registry": 1}'
    with pytest.raises(errors.RepositoryPolicyNotFound):
        await ecr.delete_repository_policy(SCOPE, REPO)
    with pytest.raises(errors.RegistryPolicyNotFound):
        await ecr.get_registry_policy(ELSEWHERE)


async def test_resource_tags_are_added_overwritten_and_removed(ecr: EcrService) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [("a", "1")])
    arn = SCOPE.repository_arn(REPO)

    await ecr.tag_resource(arn, [("b", "2"), ("a", "one")])
    await ecr.untag_resource(arn, ["b", "never-set"])

    assert list(await ecr.list_tags_for_resource(arn)) == [("a", "one")]


@pytest.mark.parametrize(
    ("tags", "error"),
    [
        ([("aws:owner", "x")], errors.InvalidTagParameter),
        ([("", "x")], errors.InvalidTagParameter),
        ([(f"k{i}", "v") for i in range(51)], errors.TooManyTags),
    ],
)
async def test_tags_ecr_refuses(ecr: EcrService, tags: list[tuple[str, str]], error: type[Exception]) -> None:
    await ecr.create_repository(SCOPE, REPO, RepositorySettings(), [])

    with pytest.raises(error):
        await ecr.tag_resource(SCOPE.repository_arn(REPO), tags)


async def test_tags_of_what_is_no_repository_are_refused(ecr: EcrService) -> None:
    with pytest.raises(errors.InvalidParameter, match="'Invalid ARN'"):
        await ecr.list_tags_for_resource("arn:aws:s3:::bucket")
    with pytest.raises(errors.RepositoryNotFound):
        await ecr.list_tags_for_resource(SCOPE.repository_arn("team/none"))
