"""Image references as `pullcache warm` reads them."""

from __future__ import annotations

import pytest

from pullcache.core.digests import Digest
from pullcache.warming.references import ImageReference, InvalidImageReference, parse_image_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/up/library/app:v1", ImageReference("127.0.0.1:5000", "up/library/app", "v1", None)),
        ("localhost/up/app", ImageReference("localhost", "up/app", "latest", None)),
        ("registry.example.com/up/app:1.0", ImageReference("registry.example.com", "up/app", "1.0", None)),
        ("up/library/app:v1", ImageReference(None, "up/library/app", "v1", None)),
        ("up/app", ImageReference(None, "up/app", "latest", None)),
        (f"up/app@{DIGEST}", ImageReference(None, "up/app", None, Digest.parse(DIGEST))),
        (f"host:1/up/app:v1@{DIGEST}", ImageReference("host:1", "up/app", "v1", Digest.parse(DIGEST))),
    ],
)
def test_a_reference_names_host_repository_and_tag_or_digest(text: str, expected: ImageReference) -> None:
    assert parse_image_reference(text) == expected
    assert str(parse_image_reference(str(expected))) == str(expected)


def test_a_digest_is_what_the_manifest_url_names_when_there_is_one() -> None:
    assert parse_image_reference(f"up/app:v1@{DIGEST}").reference == DIGEST
    assert parse_image_reference("up/app:v1").reference == "v1"


@pytest.mark.parametrize(
    "text", ["up/App:v1", "up/app:-v1", "up/app@sha256:abc", "up/app@md5:" + "0" * 32, "a", "", "host:5000/", "up//app"]
)
def test_a_malformed_reference_is_refused_saying_which_it_is(text: str) -> None:
    with pytest.raises(InvalidImageReference, match="is not an image reference"):
        parse_image_reference(text)
