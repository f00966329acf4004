"""ECR's layer API over the registry's upload sessions: BatchCheckLayerAvailability, InitiateLayerUpload,
UploadLayerPart, CompleteLayerUpload, and GetDownloadUrlForLayer's URLs of this server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pullcache.auth.registry_tokens import RegistryTokens
from pullcache.core.digests import Digest, InvalidDigest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import (
    EmptyUpload,
    InvalidLayer,
    InvalidLayerPart,
    LayerAlreadyExists,
    LayersNotFound,
    UploadNotFound,
)
from pullcache.ecr.service import EcrService
from pullcache.registry.errors import BlobUploadUnknown, DigestInvalid, RangeInvalid
from pullcache.registry.service import RegistryService, UploadStarted

# What InitiateLayerUpload tells clients to send per part. Any size is accepted.
PART_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LayerCheck:
    digest: str
    size: int | None  # None: not in the repository
    failure: tuple[str, str] | None = None  # (code, reason) for a digest that is not one


class EcrLayers:
    def __init__(self, repositories: EcrService, registry: RegistryService, tokens: RegistryTokens) -> None:
        self._repositories = repositories
        self._registry = registry
        self._tokens = tokens

    async def check_layers(self, scope: RegistryScope, name: str, digests: Sequence[str]) -> list[LayerCheck]:
        await self._repositories.get_repository(scope, name)
        checks: list[LayerCheck] = []
        for text in dict.fromkeys(digests):
            try:
                digest = Digest.parse(text)
            except InvalidDigest:
                checks.append(LayerCheck(text, None, ("InvalidLayerDigest", "Invalid layer digest")))
                continue
            size = await self._registry.find_blob_size(scope, name, digest)
            failure = None if size is not None else ("MissingLayerDigest", "Could not find layer")
            checks.append(LayerCheck(text, size, failure))
        return checks

    async def initiate_layer_upload(self, scope: RegistryScope, name: str) -> str:
        await self._repositories.get_repository(scope, name)
        started = await self._registry.start_upload(scope, name)
        assert isinstance(started, UploadStarted)
        return started.upload_id

    async def upload_layer_part(
        self, scope: RegistryScope, name: str, upload_id: str, first_byte: int, last_byte: int, data: bytes
    ) -> int:
        """Append a part; returns the last byte received. Raises UploadNotFound, InvalidLayerPart."""
        await self._repositories.get_repository(scope, name)
        size = await self._upload_size(scope, name, upload_id)
        if last_byte - first_byte + 1 != len(data) or first_byte != size:
            raise InvalidLayerPart(scope, name, upload_id, first_byte, size - 1)
        try:
            return await self._registry.append_chunk(scope, name, upload_id, first_byte, _once(data)) - 1
        except RangeInvalid as error:
            raise InvalidLayerPart(scope, name, upload_id, first_byte, error.size - 1) from None
        except BlobUploadUnknown:
            raise UploadNotFound(scope, name, upload_id) from None

    async def complete_layer_upload(
        self, scope: RegistryScope, name: str, upload_id: str, digests: Sequence[str]
    ) -> Digest:
        """Raises UploadNotFound, EmptyUpload, LayerAlreadyExists, InvalidLayer."""
        await self._repositories.get_repository(scope, name)
        if await self._upload_size(scope, name, upload_id) == 0:
            raise EmptyUpload(upload_id)
        try:
            digest = Digest.parse(digests[0])
        except InvalidDigest:
            raise InvalidLayer(f"Invalid layer digest '{digests[0]}'") from None
        if await self._registry.find_blob_size(scope, name, digest) is not None:
            await self._registry.cancel_upload(scope, name, upload_id)
            raise LayerAlreadyExists(scope, name, str(digest))
        try:
            return await self._registry.complete_upload(scope, name, upload_id, str(digest), None, None)
        except DigestInvalid:
            raise InvalidLayer(
                f"The layer digest '{digest}' does not match the digest of the uploaded content"
            ) from None
        except BlobUploadUnknown:
            raise UploadNotFound(scope, name, upload_id) from None

    async def _upload_size(self, scope: RegistryScope, name: str, upload_id: str) -> int:
        try:
            return await self._registry.upload_size(scope, name, upload_id)
        except BlobUploadUnknown:
            raise UploadNotFound(scope, name, upload_id) from None

    async def download_path(self, scope: RegistryScope, name: str, digest_text: str) -> str:
        """The path (and query) on this server that downloads the layer for a while, without credentials; the
        edge puts the registry's URL before it."""
        await self._repositories.get_repository(scope, name)
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest:
            raise LayersNotFound(scope, name, [digest_text]) from None
        if await self._registry.find_blob_size(scope, name, digest) is None:
            raise LayersNotFound(scope, name, [str(digest)])
        grant = self._tokens.grant_download(scope, name, str(digest), _now())
        return f"/v2/{name}/blobs/{digest}?grant={grant}"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _now() -> datetime:
    return datetime.now(UTC)
