"""TokenGate: a registry front that demands Docker-style Bearer tokens (or Basic credentials)."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiohttp import web

from tests.upstreams.proxy import ReverseProxy, error_body, repository_of


@dataclass(frozen=True, slots=True)
class _Grant:
    repositories: frozenset[str]
    expires_at: float


class TokenGate(ReverseProxy):
    """A registry front that lets through only requests with a token its /token issued for the repository.

    Unauthenticated: 401 with `WWW-Authenticate: Bearer realm="<url>/token",service="gate",scope="repository:
    <name>:pull"` (no scope on /v2/ itself). /token issues a token for the `scope`s asked only to Basic
    `username`/`password`; anything else is 401. With `scheme="basic"` there are no tokens: the challenge is
    Basic and the credentials go with every request. `token_field` is where the answer puts the token
    (`access_token` is OAuth2's spelling, which Docker's token protocol accepts too).
    """

    SERVICE: Final = "gate"

    def __init__(
        self,
        upstream_url: str,
        username: str,
        password: str,
        *,
        scheme: Literal["bearer", "basic"] = "bearer",
        token_lifetime: int = 300,
        token_field: str = "token",
    ) -> None:
        super().__init__(upstream_url)
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._scheme = scheme
        self._token_lifetime = token_lifetime
        self._token_field = token_field
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._token_requests: list[Mapping[str, Any]] = []
        self._passed = 0

    @property
    def token_requests(self) -> int:
        with self._lock:
            return len(self._token_requests)

    @property
    def token_scopes(self) -> list[tuple[str, ...]]:
        """The scopes each token request asked for, in order."""
        with self._lock:
            return [tuple(request["scope"]) for request in self._token_requests]

    @property
    def passed(self) -> int:
        """Requests let through to the upstream."""
        with self._lock:
            return self._passed

    def revoke_tokens(self) -> None:
        with self._lock:
            self._grants.clear()

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self._token)
        app.router.add_route("*", "/{tail:.*}", self._gate)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        scopes = request.query.getall("scope", [])
        with self._lock:
            self._token_requests.append({"scope": scopes, "service": request.query.get("service")})
        if request.headers.get("Authorization") != self._basic:
            return web.Response(status=401, body=error_body("UNAUTHORIZED", "bad credentials"))
        repositories = frozenset(
            part.split(":")[1] for scope in scopes for part in scope.split(" ") if part.startswith("repository:")
        )
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[token] = _Grant(repositories, time.monotonic() + self._token_lifetime)
        return web.json_response({self._token_field: token, "expires_in": self._token_lifetime})

    async def _gate(self, request: web.Request) -> web.StreamResponse:
        repository = repository_of(request.path)
        if not self._admits(request.headers.get("Authorization", ""), repository):
            return web.Response(
                status=401,
                headers={"WWW-Authenticate": self._challenge(repository), "Content-Type": "application/json"},
                body=None if request.method == "HEAD" else error_body("UNAUTHORIZED", "authentication required"),
            )
        with self._lock:
            self._passed += 1
        return await self.forward(request, drop_authorization=True)

    def _admits(self, authorization: str, repository: str | None) -> bool:
        if self._scheme == "basic":
            return authorization == self._basic
        if not authorization.startswith("Bearer "):
            return False
        with self._lock:
            grant = self._grants.get(authorization.removeprefix("Bearer "))
        if grant is None or grant.expires_at < time.monotonic():
            return False
        return repository is None or repository in grant.repositories

    def _challenge(self, repository: str | None) -> str:
        if self._scheme == "basic":
            return f'Basic realm="{self.SERVICE}"'
        scope = "" if repository is None else f',scope="repository:{repository}:pull"'
        return f'Bearer realm="{self.url}/token",service="{self.SERVICE}"{scope}'
