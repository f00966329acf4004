"""Digests: the image spec's grammar, the algorithms pullcache verifies, and hashing."""

from __future__ import annotations

import hashlib

import pytest

from pullcache.core.digests import CANONICAL, Digest, InvalidDigest, looks_like_digest

SHA256_HEX = hashlib.sha256(b"pullcache").hexdigest()
SHA512_HEX = hashlib.sha512(b"pullcache").hexdigest()


@pytest.mark.parametrize(
    ("text", "algorithm", "encoded"),
    [
        (f"sha256:{SHA256_HEX}", "sha256", SHA256_HEX),
        (f"sha512:{SHA512_HEX}", "sha512", SHA512_HEX),
    ],
)
def test_valid_digest_parses_into_algorithm_and_encoded(text: str, algorithm: str, encoded: str) -> None:
    digest = Digest.parse(text)

    assert (digest.algorithm, digest.encoded) == (algorithm, encoded)
    assert str(digest) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not of the form"),
        (SHA256_HEX, "not of the form"),
        ("sha256:", "not of the form"),
        (":" + SHA256_HEX, "not of the form"),
        (f"SHA256:{SHA256_HEX}", "not of the form"),
        (f"sha256:{SHA256_HEX[:-4]}/../", "not of the form"),
        (f"sha256 :{SHA256_HEX}", "not of the form"),
        (f"sha256:{SHA256_HEX}\n", "not of the form"),
        (f"md5:{hashlib.md5(b'x').hexdigest()}", "unsupported algorithm"),
        (f"sha256+b64u:{SHA256_HEX}", "unsupported algorithm"),
        (f"sha256:{SHA256_HEX[:-1]}", "64 lowercase hex"),
        (f"sha256:{SHA256_HEX}0", "64 lowercase hex"),
        (f"sha256:{SHA256_HEX.upper()}", "64 lowercase hex"),
        (f"sha256:{'g' * 64}", "64 lowercase hex"),
        (f"sha512:{SHA256_HEX}", "128 lowercase hex"),
    ],
)
def test_malformed_or_unverifiable_digest_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidDigest) as raised:
        Digest.parse(text)

    assert reason in raised.value.reason
    assert raised.value.text == text


def test_digest_of_content_is_its_sha256_by_default() -> None:
    assert Digest.of(b"pullcache") == Digest(CANONICAL, SHA256_HEX)


def test_digest_of_content_uses_the_algorithm_asked_for() -> None:
    assert Digest.of(b"pullcache", "sha512") == Digest("sha512", SHA512_HEX)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_hasher_of_a_digest_reproduces_it(algorithm: str) -> None:
    digest = Digest.of(b"pullcache", algorithm)
    hasher = digest.hasher()
    hasher.update(b"pull")
    hasher.update(b"cache")

    assert hasher.hexdigest() == digest.encoded


def test_equal_digests_are_equal_values() -> None:
    assert Digest.parse(f"sha256:{SHA256_HEX}") == Digest.of(b"pullcache")
    assert len({Digest.parse(f"sha256:{SHA256_HEX}"), Digest.of(b"pullcache")}) == 1


@pytest.mark.parametrize(("text", "expected"), [("sha256:abc", True), ("md5:", True), ("latest", False), ("", False)])
def test_looks_like_digest_is_true_exactly_when_there_is_a_colon(text: str, expected: bool) -> None:
    assert looks_like_digest(text) is expected
