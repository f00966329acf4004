"""Authenticator: how the upstream client answers a registry's 401, and the Authorization values it keeps.

A registry that wants credentials answers 401 with a challenge (RFC 9110 11.6.1):

    WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
    WWW-Authenticate: Basic realm="registry"

For Bearer the client asks the realm for a token (Docker's token protocol: GET with `service` and `scope`, Basic
credentials when it has any) and sends `Authorization: Bearer <token>`; for Basic it sends the credentials. The
values are kept per (upstream, scope, credentials) until the token expires, so other credentials or another
repository never reuse them. A token service that answers 5xx or 429 is a Transient failure: the request that
needed the token is asked again (retry.py). Nothing here logs or renders a credential or a token.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from yarl import URL

from pullcache.pullthrough.errors import UpstreamDenied, UpstreamInvalid
from pullcache.pullthrough.ports import UpstreamCredentials, UpstreamEndpoint
from pullcache.pullthrough.upstream.http_session import HttpSession, read_limited
from pullcache.pullthrough.upstream.retry import Transient, is_retryable, parse_retry_after

BEARER: Final = "bearer"
BASIC: Final = "basic"
DEFAULT_TOKEN_LIFETIME: Final = 60.0  # seconds, when the token service states none (Docker's token spec)
# A token is used until this share of its lifetime has passed, so it does not expire on the way.
TOKEN_LIFETIME_USED: Final = 0.9
MAX_TOKEN_RESPONSE_BYTES: Final = 1 << 20

_TOKEN68_OR_PARAM: Final = re.compile(
    r"""\s*(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s,"]*))?\s*"""
)


class InvalidTokenResponse(ValueError):
    """The token service answered 200 with something other than a token."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a WWW-Authenticate header: its scheme (lower case) and parameters (names lower case)."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Every challenge in the WWW-Authenticate header values, in order; what cannot be read is skipped.

    A header may hold several challenges, and a quoted value may hold commas:
    `Basic realm="a, b", Bearer realm="x",scope="repository:r:pull,push"` is two challenges.
    """
    challenges: list[Challenge] = []
    for header in headers:
        scheme: str | None = None
        params: dict[str, str] = {}
        for name, value in _items(header):
            if value is None:  # a bare token starts the next challenge
                if scheme is not None:
                    challenges.append(Challenge(scheme, params))
                scheme, params = name.lower(), {}
            elif scheme is not None:
                params[name.lower()] = value
        if scheme is not None:
            challenges.append(Challenge(scheme, params))
    return challenges


def _items(header: str) -> list[tuple[str, str | None]]:
    """`Scheme a=1, b="x,y" Other` as [("Scheme", None), ("a", "1"), ("b", "x,y"), ("Other", None)]."""
    items: list[tuple[str, str | None]] = []
    position = 0
    while position < len(header):
        if header[position] in ", \t":
            position += 1
            continue
        match = _TOKEN68_OR_PARAM.match(header, position)
        if match is None or match.end() == position:
            break  # unreadable from here on: keep what was read
        value = match.group("value")
        if value is not None and value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        items.append((match.group("name"), value))
        position = match.end()
    return items


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def basic_authorization(credentials: UpstreamCredentials) -> str:
    pair = f"{credentials.username}:{credentials.access_token}".encode()
    return f"Basic {base64.b64encode(pair).decode('ascii')}"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str = field(repr=False)
    lifetime: float  # seconds

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


def parse_token_response(body: bytes) -> IssuedToken:
    """The token in a token service's answer (`token`, or OAuth2's `access_token`) and its `expires_in`;
    raises InvalidTokenResponse."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise InvalidTokenResponse("the token service answered with something other than JSON") from error
    if not isinstance(document, dict):
        raise InvalidTokenResponse("the token service answered with JSON other than an object")
    token = document.get("token") or document.get("access_token")
    if not isinstance(token, str) or not token:
        raise InvalidTokenResponse("the token service's answer holds no token")
    lifetime = document.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    return IssuedToken(token, float(lifetime))


AuthorizationKey = tuple[str, str | None, UpstreamCredentials | None]
"""(upstream base URL, scope, credentials): what an Authorization value is good for."""


class AuthorizationCache:
    """Authorization header values by AuthorizationKey, each until it expires (Basic ones do not)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[AuthorizationKey, tuple[str, float | None]] = {}

    def find(self, key: AuthorizationKey) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at is not None and self._clock() >= expires_at:
            del self._values[key]
            return None
        return value

    def store(self, key: AuthorizationKey, value: str, lifetime: float | None = None) -> None:
        expires_at = None if lifetime is None else self._clock() + lifetime * TOKEN_LIFETIME_USED
        self._values[key] = (value, expires_at)

    def forget(self, key: AuthorizationKey) -> None:
        self._values.pop(key, None)


class Authenticator:
    """The Authorization value for a request, per AuthorizationKey: the one kept, or a new one that answers the
    challenges of a 401 (a Bearer token fetched from the challenge's realm, or Basic credentials)."""

    def __init__(self, http: HttpSession, cache: AuthorizationCache | None = None) -> None:
        self._http = http
        self._cache = cache if cache is not None else AuthorizationCache()

    def find(self, key: AuthorizationKey) -> str | None:
        return self._cache.find(key)

    async def answer(self, endpoint: UpstreamEndpoint, challenges: Iterable[str], key: AuthorizationKey) -> str:
        """The Authorization value that answers the first of the WWW-Authenticate `challenges` pullcache can
        answer, kept under `key` in place of the one refused. Raises UpstreamDenied (no challenge it can answer,
        credentials refused), UpstreamInvalid, Transient."""
        self._cache.forget(key)
        for challenge in parse_challenges(challenges):
            if challenge.scheme == BEARER and challenge.realm:
                token = await self._fetch_token(endpoint, challenge, key[1])
                self._cache.store(key, token.authorization, token.lifetime)
                return token.authorization
            if challenge.scheme == BASIC:
                if endpoint.credentials is None:
                    raise UpstreamDenied(f"upstream {endpoint.base_url} asks for Basic credentials and has none", 401)
                value = basic_authorization(endpoint.credentials)
                self._cache.store(key, value)
                return value
        raise UpstreamDenied(f"upstream {endpoint.base_url} answered 401 with no challenge pullcache can answer", 401)

    async def _fetch_token(self, endpoint: UpstreamEndpoint, challenge: Challenge, scope: str | None) -> IssuedToken:
        """A token from the challenge's realm for `scope` (the challenge's own when None), asked with the
        endpoint's credentials when it has any, anonymously otherwise."""
        assert challenge.realm is not None
        realm = URL(challenge.realm)
        if realm.scheme not in ("http", "https") or not realm.host:
            raise UpstreamInvalid(f"upstream {endpoint.base_url} names a token realm that is not an HTTP URL")
        wanted = (("service", challenge.service), ("scope", scope or challenge.scope))
        url = realm.update_query({name: value for name, value in wanted if value})
        authorization = None if endpoint.credentials is None else basic_authorization(endpoint.credentials)
        response = await self._http.send("GET", url, {"Accept": "application/json"}, authorization)
        try:
            where = f"the token service {realm.origin()}{realm.path} of upstream {endpoint.base_url}"
            if response.status in (401, 403):
                who = "the credentials" if endpoint.credentials else "anonymous access"
                raise UpstreamDenied(f"{where} refused {who} ({response.status})", response.status)
            if is_retryable(response.status):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                raise Transient(f"{where} answered {response.status}", response.status, retry_after)
            if response.status != 200:
                raise UpstreamInvalid(f"{where} answered {response.status}", response.status)
            body = await read_limited(response, MAX_TOKEN_RESPONSE_BYTES)
            if body is None:
                raise UpstreamInvalid(f"{where} answered with more than {MAX_TOKEN_RESPONSE_BYTES} bytes")
            try:
                return parse_token_response(body)
            except InvalidTokenResponse as error:
                raise UpstreamInvalid(f"{where}: {error}") from None
        finally:
            response.release()
