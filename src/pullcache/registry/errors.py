"""Domain errors of the registry. They carry facts; the HTTP edge maps them to OCI error codes.

RegistryError
├── NameInvalid, TagInvalid, DigestInvalid, SizeInvalid, Unsupported   (the request is malformed)
├── NameUnknown, BlobUnknown, ManifestUnknown, BlobUploadUnknown       (something named is missing)
├── BlobUploadInvalid, RangeInvalid                                     (an upload step is out of order)
├── ManifestInvalid, ManifestBlobUnknown, ManifestTooLarge             (a manifest is refused)
├── TagImmutable                                                        (a tag may not move to another image)
├── Unauthorized                                                        (no valid credentials, and they are needed)
├── Denied                                                              (the caller may not do this)
├── Unavailable                                                         (content is elsewhere, and it cannot be had)
│   ├── SourceThrottled                                                 (... its source asks to be left alone a while)
│   ├── SourceTimedOut                                                  (... its source did not answer in time)
│   └── SourceAnswerInvalid                                             (... its source answered, and not rightly)
├── BlobFillFailed                                                      (a blob fetched while served was not right)
└── StorageFull                                                         (no room left for a write: nothing was kept)
    └── UploadDiscarded                                                 (... and the upload it was part of is gone)
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

# What the operating system answers a write when the disk (ENOSPC) or the user's quota (EDQUOT) is full: the
# stores raise StorageFull for these.
OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class RegistryError(Exception):
    """Base of every error the registry answers to a client."""

    def __init__(self, message: str, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NameInvalid(RegistryError):
    def __init__(self, name: str) -> None:
        super().__init__(f"invalid repository name {name!r}", {"name": name})


class TagInvalid(RegistryError):
    def __init__(self, tag: str) -> None:
        super().__init__(f"invalid tag {tag!r}", {"tag": tag})


class DigestInvalid(RegistryError):
    pass


class SizeInvalid(RegistryError):
    pass


class Unsupported(RegistryError):
    pass


class NameUnknown(RegistryError):
    """The repository does not exist in the registry of account `registry_id`. The message is ECR's (docker prints
    it as "name unknown: The repository with name ... does not exist in the registry with id ...")."""

    def __init__(self, name: str, registry_id: str) -> None:
        super().__init__(
            f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'", {"name": name}
        )
        self.registry_id = registry_id


class NoMirrorRule(NameUnknown):
    """A runtime asked this server, as its mirror, for a repository of an upstream host that no pull-through cache
    rule serves."""

    def __init__(self, host: str, name: str, registry_id: str) -> None:
        super().__init__(name, registry_id)
        self.message = (
            f"no pull-through cache rule of registry {registry_id} serves {name} of {host}: a rule whose upstream is "
            f"{host} would mirror it here"
        )
        self.args = (self.message,)
        self.detail = {"name": name, "upstream": host}


class BlobUnknown(RegistryError):
    def __init__(self, digest: str) -> None:
        super().__init__(f"blob {digest} is unknown to the repository", {"digest": digest})


class ManifestUnknown(RegistryError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"manifest {reference!r} is unknown to the repository", {"reference": reference})


class BlobUploadUnknown(RegistryError):
    def __init__(self, upload_id: str) -> None:
        super().__init__(f"blob upload {upload_id!r} is unknown", {"uuid": upload_id})


class BlobUploadInvalid(RegistryError):
    pass


class RangeInvalid(RegistryError):
    """A chunk does not start where the upload ends; `size` is where it does end."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message, {"size": size})
        self.size = size


class ManifestInvalid(RegistryError):
    pass


class ManifestTooLarge(RegistryError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"manifest exceeds the limit of {limit} bytes", {"limit": limit})


class ManifestBlobUnknown(RegistryError):
    """A manifest references content the repository lacks: `missing` lists all of it (`digest` is the first);
    `manifests` says whether it is child manifests of an index rather than blobs."""

    def __init__(self, digest: str, missing: Sequence[str] = (), *, manifests: bool = False) -> None:
        super().__init__(f"manifest references unknown content {digest}", {"digest": digest})
        self.missing = tuple(missing) or (digest,)
        self.manifests = manifests


class TagImmutable(RegistryError):
    """The repository's tag mutability setting keeps `tag` on the image it names. The message is ECR's."""

    def __init__(self, repository: str, tag: str) -> None:
        super().__init__(
            f"The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten "
            "because the tag is immutable."
        )
        self.repository = repository
        self.tag = tag


class Unauthorized(RegistryError):
    """The request has no credentials, or credentials that are not valid, and the registry needs some."""

    def __init__(self, message: str = "Not Authorized") -> None:
        super().__init__(message)


class Denied(RegistryError):
    pass


class Unavailable(RegistryError):
    """The content lives upstream and the upstream cannot give it now: unreachable, left alone after failing
    (a breaker), or refused by the server's policy. The subclasses say when it is more than that."""


class SourceThrottled(Unavailable):
    """The upstream limits the rate of requests; `retry_after` is the seconds it asked for, when it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceTimedOut(Unavailable):
    """The upstream did not answer within the server's bounds."""


class SourceAnswerInvalid(Unavailable):
    """The upstream answered with an error of its own (a 5xx) or with something that breaks the protocol."""


class BlobFillFailed(RegistryError):
    """A blob being fetched from upstream while it was served failed (its digest did not match, the upstream
    went away): a response already under way must be cut off."""

    def __init__(self, digest: str, reason: str) -> None:
        super().__init__(f"fetching blob {digest} from upstream failed: {reason}", {"digest": digest})


class StorageFull(RegistryError):
    """The registry has no room left for a write: its disk, its quota or its database is full. Whatever the write
    had staged is gone already (`lost` says what the client lost), so the storage keeps what room it has; reads go
    on being served."""

    def __init__(self, lost: str = "nothing was written", detail: object = None) -> None:
        super().__init__(f"the registry's storage is full: {lost}; try again once space is freed", detail)


class UploadDiscarded(StorageFull):
    """StorageFull that cost an upload: the store discarded it, and the client must start it again from its first
    byte (the upload is unknown from now on)."""

    def __init__(self, upload_id: str) -> None:
        super().__init__("the upload was discarded and must be started again from its first byte", {"uuid": upload_id})
        self.upload_id = upload_id
