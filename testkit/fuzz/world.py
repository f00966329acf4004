"""What the fuzz cases refer to: the server, its keys, and a little content that exists on it.

Cases are mutations of valid requests, and a valid request names things that exist: a repository with an image
(its blobs, manifest and tag), uploads under way, the root user's keys and a registry token. `World` holds their
names, and `build_world` puts them on a server; the generators see only the names.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

from testkit.aws_clients import registry_authorization, root_keys
from testkit.registry_client import Content, RegistryClient
from testkit.servers import PullcacheServer

REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class World:
    host: str  # host:port, as the Host header and the SigV4 host carry it
    access_key_id: str
    secret_access_key: str
    registry_authorization: str  # `Basic base64(AWS:<token>)` of the root user
    repositories: Sequence[str]  # each holds the image below
    tag: str
    manifest_digest: str
    manifest: bytes
    manifest_media_type: str
    blob_digests: Sequence[str]  # the image's config and layer
    upload_paths: Sequence[str]  # Locations of uploads started in the first repository
    # Repository prefixes a pull-through cache rule may take: never a prefix of `repositories`, so no /v2/ case
    # reaches an upstream.
    rule_prefixes: Sequence[str] = ("ptc-fuzz",)
    # The only upstream a rule may name: a closed port on loopback, so nothing leaves the machine.
    upstream_url: str = "http://127.0.0.1:9"

    @property
    def url(self) -> str:
        return f"http://{self.host}"


FUZZ_REPOSITORIES = ("fuzz/app", "fuzz/shared")  # the first only /v2/ touches; the AWS doors may change the second
FUZZ_TAG = "v1"
UPLOADS = 8
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


async def build_world(server: PullcacheServer) -> World:
    """Put the fuzz content on `server` (an image in each fuzz repository, uploads under way) and name it."""
    key_id, secret = root_keys(server)
    authorization = await asyncio.to_thread(registry_authorization, server)
    config = Content(CONFIG_MEDIA_TYPE, json.dumps({"architecture": "amd64", "os": "linux"}).encode())
    layer = Content(LAYER_MEDIA_TYPE, b"fuzz layer " * 100)
    manifest = Content(
        MANIFEST_MEDIA_TYPE,
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": config.descriptor(),
                "layers": [layer.descriptor()],
            }
        ).encode(),
    )
    async with RegistryClient.connect(server.url, headers={"Authorization": authorization}) as client:
        for repository in FUZZ_REPOSITORIES:
            await client.push_all(repository, (config, layer))
            await client.push_manifest(repository, manifest, FUZZ_TAG)
        uploads = [await client.start_upload(FUZZ_REPOSITORIES[0]) for _ in range(UPLOADS)]
    return World(
        host=server.address,
        access_key_id=key_id,
        secret_access_key=secret,
        registry_authorization=authorization,
        repositories=FUZZ_REPOSITORIES,
        tag=FUZZ_TAG,
        manifest_digest=manifest.digest,
        manifest=manifest.data,
        manifest_media_type=MANIFEST_MEDIA_TYPE,
        blob_digests=(config.digest, layer.digest),
        upload_paths=tuple(uploads),
    )
