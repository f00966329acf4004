"""Image references as `pullcache warm` takes them: `[host[:port]/]repository[:tag][@digest]`.

The first component names a host, as Docker reads it, when it has a `.` or a `:` or is `localhost`; otherwise
the whole is the repository and the registry is the configured endpoint. A reference with neither tag nor
digest means `latest`, as it does to every client.
"""

from __future__ import annotations

from dataclasses import dataclass

from pullcache.core.digests import Digest, InvalidDigest
from pullcache.core.names import is_valid_repository_name, is_valid_tag

DEFAULT_TAG = "latest"


class InvalidImageReference(ValueError):
    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r} is not an image reference: {reason}")
        self.text = text


@dataclass(frozen=True, slots=True)
class ImageReference:
    host: str | None  # host[:port] of the registry; None: the configured endpoint's
    repository: str
    tag: str | None
    digest: Digest | None

    @property
    def reference(self) -> str:
        """What the manifest URL names: the digest when there is one (it pins the content), else the tag."""
        return str(self.digest) if self.digest is not None else self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        name = self.repository if self.host is None else f"{self.host}/{self.repository}"
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{name}{tag}{digest}"


def parse_image_reference(text: str) -> ImageReference:
    """Raises InvalidImageReference, saying which part is wrong."""
    rest, at, digest_text = text.strip().partition("@")
    digest: Digest | None = None
    if at:
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest as error:
            raise InvalidImageReference(text, error.reason) from None
    host: str | None = None
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, rest = first, remainder
        if not host.strip(".:"):
            raise InvalidImageReference(text, "the registry host is empty")
    name, colon, tag = rest.rpartition(":") if ":" in rest.rpartition("/")[2] else (rest, "", "")
    if colon and not is_valid_tag(tag):
        raise InvalidImageReference(text, f"{tag!r} is not a tag")
    if not is_valid_repository_name(name):
        raise InvalidImageReference(text, f"{name!r} is not a repository name")
    return ImageReference(host, name, tag if colon else (None if digest is not None else DEFAULT_TAG), digest)
