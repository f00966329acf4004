"""Holding a restarted server to what it acknowledged before it died, and to its own blob store.

- `hash_blob_store`: every file of `<data-dir>/blobs/<algorithm>/<xx>/<hex>` hashes to its name; no other file
  lies in the tree (a partial blob would be one).
- `check_acknowledged`: every acknowledged blob and image reads back whole, each byte checked.
- `check_listed`: every repository the catalog lists and every tag it holds reads back whole, acknowledged or
  not: a write cut short may be gone, never half-there (a manifest whose blobs are missing).
- `finish_open_uploads`: an upload the crash interrupted resumes from where the server says it stands, or, when
  the server no longer knows it, starts over; either way it commits under the right digest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from testkit.content import streamed
from testkit.registry_client import RegistryClient, TransferError
from testkit.small_images import pull_image
from tests.reliability.ledger import Ledger

CATALOG_PAGE = 10_000
READ_BYTES = 1 << 20


def hash_blob_store(data_dir: Path) -> int:
    """Hash every committed blob; returns how many there are. Raises AssertionError on the first that is not the
    bytes of its name, or on a file out of place."""
    root = data_dir / "blobs"
    count = 0
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            relative = path.relative_to(root).parts
            assert len(relative) == 3, f"{path} is not where a blob lies"
            assert relative[1] == name[:2], f"{path} is not where a blob lies"
            hasher = hashlib.new(relative[0])
            with path.open("rb") as blob:
                while data := blob.read(READ_BYTES):
                    hasher.update(data)
            assert hasher.hexdigest() == name, f"{path} holds {relative[0]}:{hasher.hexdigest()}"
            count += 1
    return count


async def check_acknowledged(client: RegistryClient, ledger: Ledger) -> None:
    for repository, digest in sorted(ledger.blobs):
        pulled = await client.pull_blob(repository, digest)
        assert pulled.digest == digest, f"acknowledged blob {repository}@{digest} reads back as {pulled.digest}"
    for image in ledger.images:
        found = await pull_image(client, image.repository, image.tag)
        assert found == (image.digest, image.blobs), f"acknowledged {image.repository}:{image.tag} reads back other"


async def check_listed(client: RegistryClient) -> int:
    """Pull every tag of every repository the catalog lists, whole; returns how many images that is."""
    catalog = await client.request("GET", "/v2/_catalog", query={"n": str(CATALOG_PAGE)})
    assert catalog.status == 200, catalog
    count = 0
    for repository in catalog.json()["repositories"]:
        for tag in await client.list_tags(repository) or []:
            await pull_image(client, repository, tag)
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class UploadOutcomes:
    resumed: int
    restarted: int


async def finish_open_uploads(client: RegistryClient, ledger: Ledger) -> UploadOutcomes:
    resumed = restarted = 0
    for upload in ledger.open_uploads:
        digest = upload.digest
        status = await client.request("GET", upload.location)
        if status.status == 404:
            assert status.error_codes == ["BLOB_UPLOAD_UNKNOWN"], status
            committed = await client.push_blob(upload.repository, upload.data)
            restarted += 1
        else:
            assert status.status == 204, f"status of an interrupted upload: {status}"
            staged = await _resume(client, upload.location, upload.data, await client.upload_status(upload.location))
            assert staged == len(upload.data), f"{upload.location} holds {staged} of {len(upload.data)} bytes"
            committed = await client.complete_upload(upload.location, digest)
            resumed += 1
        if committed != digest:
            raise TransferError(f"{upload.location} committed as {committed}")
        pulled = await client.pull_blob(upload.repository, committed)
        assert pulled.digest == committed, f"the finished upload {upload.location} reads back as {pulled.digest}"
    return UploadOutcomes(resumed, restarted)


async def _resume(client: RegistryClient, location: str, data: bytes, staged: int) -> int:
    """Send what the upload lacks from `staged` on; returns what it holds then. `Range: 0-0` says 0 bytes or 1 (the
    spec's ambiguity): when 1 is refused, the upload holds none."""
    assert staged <= len(data), f"{location} holds {staged} of {len(data)} bytes"
    if staged == len(data):
        return staged
    rest = data[staged:]
    if staged == 1:
        reply = await client.request("PATCH", location, headers={"Content-Range": f"1-{len(data) - 1}"}, body=rest)
        if reply.status == 416:
            return await _resume(client, location, data, 0)
        assert reply.status == 202, reply
        return await client.upload_status(location)
    return await client.upload_chunk(location, staged, len(rest), streamed([rest]))
