"""The upstream client's authentication parts: reading challenges and token answers, and keeping Authorization
values per upstream, scope and credentials until they expire."""

from __future__ import annotations

import base64

import pytest

from pullcache.pullthrough.ports import UpstreamCredentials
from pullcache.pullthrough.upstream.auth import (
    DEFAULT_TOKEN_LIFETIME,
    AuthorizationCache,
    Challenge,
    InvalidTokenResponse,
    basic_authorization,
    parse_challenges,
    parse_token_response,
    pull_scope,
)

DOCKER_HUB = (
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'
)


def test_docker_hub_challenge_gives_realm_service_and_scope() -> None:
    [challenge] = parse_challenges([DOCKER_HUB])

    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.docker.io/token"
    assert challenge.service == "registry.docker.io"
    assert challenge.scope == "repository:library/alpine:pull"


def test_scheme_and_parameter_names_are_case_insensitive() -> None:
    [challenge] = parse_challenges(['BEARER Realm="https://r/token", SERVICE=reg'])

    assert challenge == Challenge("bearer", {"realm": "https://r/token", "service": "reg"})


def test_quoted_values_keep_their_commas_and_escaped_quotes() -> None:
    [challenge] = parse_challenges([r'Bearer realm="https://r/t",scope="repository:a:pull,push",error="say \"no\""'])

    assert challenge.scope == "repository:a:pull,push"
    assert challenge.params["error"] == 'say "no"'


def test_one_header_may_hold_several_challenges() -> None:
    challenges = parse_challenges(['Basic realm="a, b", Bearer realm="https://r/token",service="s"'])

    assert challenges == [
        Challenge("basic", {"realm": "a, b"}),
        Challenge("bearer", {"realm": "https://r/token", "service": "s"}),
    ]


def test_challenges_of_several_headers_are_read_in_order() -> None:
    challenges = parse_challenges(['Basic realm="registry"', DOCKER_HUB])

    assert [c.scheme for c in challenges] == ["basic", "bearer"]


def test_a_scheme_without_parameters_is_a_challenge() -> None:
    assert parse_challenges(["Negotiate"]) == [Challenge("negotiate", {})]


@pytest.mark.parametrize("header", ["", "   ", ",,", '="x"'])
def test_headers_without_a_scheme_give_no_challenge(header: str) -> None:
    assert parse_challenges([header]) == []


def test_pull_scope_names_the_repository() -> None:
    assert pull_scope("library/alpine") == "repository:library/alpine:pull"


def test_basic_authorization_encodes_username_and_token() -> None:
    value = basic_authorization(UpstreamCredentials("alice", "s3cret:with:colons"))

    scheme, encoded = value.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"alice:s3cret:with:colons"


def test_credentials_never_show_their_token_in_repr() -> None:
    assert "s3cret" not in repr(UpstreamCredentials("alice", "s3cret"))


@pytest.mark.parametrize(
    ("body", "token", "lifetime"),
    [
        (b'{"token": "t1", "expires_in": 300}', "t1", 300.0),
        (b'{"access_token": "t2", "expires_in": 30}', "t2", 30.0),
        (b'{"token": "t3", "access_token": "t3", "issued_at": "2024-01-01T00:00:00Z"}', "t3", DEFAULT_TOKEN_LIFETIME),
        (b'{"token": "t4", "expires_in": 0}', "t4", DEFAULT_TOKEN_LIFETIME),
        (b'{"token": "t5", "expires_in": "soon"}', "t5", DEFAULT_TOKEN_LIFETIME),
    ],
)
def test_token_answer_gives_the_token_and_its_lifetime(body: bytes, token: str, lifetime: float) -> None:
    issued = parse_token_response(body)

    assert issued.authorization == f"Bearer {token}"
    assert issued.lifetime == lifetime
    assert token not in repr(issued)


@pytest.mark.parametrize("body", [b"<html>", b"[]", b"{}", b'{"token": ""}', b'{"token": 7}'])
def test_token_answer_without_a_token_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidTokenResponse):
        parse_token_response(body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CREDENTIALS = UpstreamCredentials("alice", "secret")


def test_cached_token_is_found_until_most_of_its_lifetime_has_passed() -> None:
    clock = Clock()
    cache = AuthorizationCache(clock)
    key = ("https://r", "repository:a:pull", CREDENTIALS)
    cache.store(key, "Bearer t", lifetime=100)

    clock.now += 89
    assert cache.find(key) == "Bearer t"
    clock.now += 1
    assert cache.find(key) is None


def test_basic_authorization_does_not_expire() -> None:
    clock = Clock()
    cache = AuthorizationCache(clock)
    key = ("https://r", None, CREDENTIALS)
    cache.store(key, "Basic x")

    clock.now += 10**9
    assert cache.find(key) == "Basic x"


def test_cached_values_are_kept_apart_by_upstream_scope_and_credentials() -> None:
    cache = AuthorizationCache(Clock())
    cache.store(("https://r", "repository:a:pull", CREDENTIALS), "Bearer mine", lifetime=60)

    assert cache.find(("https://other", "repository:a:pull", CREDENTIALS)) is None
    assert cache.find(("https://r", "repository:b:pull", CREDENTIALS)) is None
    assert cache.find(("https://r", "repository:a:pull", UpstreamCredentials("alice", "other"))) is None
    assert cache.find(("https://r", "repository:a:pull", None)) is None


def test_forgotten_value_is_gone() -> None:
    cache = AuthorizationCache(Clock())
    key = ("https://r", None, None)
    cache.store(key, "Bearer t", lifetime=60)

    cache.forget(key)
    cache.forget(key)  # idempotent

    assert cache.find(key) is None
