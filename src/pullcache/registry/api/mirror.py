"""Requests of runtimes that use this server as a registry mirror: served from the repository they stand for.

containerd, given this server as a mirror in a `hosts.toml`, keeps the image's own name and asks for the upstream's
repository, naming the upstream in `?ns=`: `GET /v2/library/alpine/manifests/3.20?ns=docker.io`. Docker's daemon,
given it in `registry-mirrors`, mirrors Docker Hub alone and names no upstream: `GET /v2/library/alpine/manifests/3.20`,
after a `GET /v2/` without credentials that must be answered. So Docker's daemon is given a port of its own (the
Docker Hub mirror port), where every name is Docker Hub's and `/v2/` answers anyone: on the API's port the same
path is the local repository `library/alpine`, and clients that log in (skopeo, podman, docker login) keep the
challenge that tells them to.

Which rule and which local repository serve a mirror request is the pull-through cache's to say (MirrorNames).
The access middleware (routes.py) asks here once it knows the caller, and puts that repository on the request
before deciding access, so that access, the handlers and the audit trail all see the repository served
(`hub/library/alpine`), as if the client had asked for it. Only reads are mirrored (GET and HEAD of manifests,
blobs, tags and referrers): a runtime never pushes to a mirror, and the Docker Hub mirror port takes no push. A
request whose `ns` names a host no rule serves is refused with NAME_UNKNOWN saying so (a caller without
credentials is asked for them instead: it may not learn which rules exist), with a warning in the log: serving the
path's own repository instead would answer with other content under the upstream's name.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from pullcache.core.scopes import RegistryScope
from pullcache.policy import RequestPrincipal
from pullcache.registry.api.context import scope, set_repository
from pullcache.registry.errors import NoMirrorRule, Unauthorized, Unsupported

log = logging.getLogger(__name__)

NAMESPACE_PARAMETER = "ns"
DOCKER_HUB = "docker.io"
_READS = frozenset({"GET", "HEAD"})
_UPLOADS = "/blobs/uploads"
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?")


class MirrorNames(Protocol):
    async def mirrored(self, scope: RegistryScope, host: str, repository: str) -> str | None:
        """The local repository that serves the upstream `host`'s `repository`; None when no rule does."""
        ...

    async def docker_hub_mirrored(self, scope: RegistryScope, repository: str) -> str | None:
        """The local repository that serves Docker Hub's `repository` on the Docker Hub mirror port; None when the
        rule that port names does not exist."""
        ...


@dataclass(frozen=True, slots=True)
class Mirrors:
    names: MirrorNames
    docker_hub_port: int | None = None  # the Docker Hub mirror port, when the server has one


MIRRORS = web.AppKey("mirrors", Mirrors)


async def serve_mirrored(request: web.Request, caller: RequestPrincipal) -> None:
    """Put on `request` the repository that serves it, when it is a mirror's; raise when none may."""
    mirrors = request.app.get(MIRRORS)
    name = request.match_info.get("name")
    if mirrors is None or name is None:
        return
    on_docker_hub_port = _on_docker_hub_port(request, mirrors)
    if request.method not in _READS or _UPLOADS in request.path:
        if on_docker_hub_port:
            raise Unsupported("this port mirrors Docker Hub for pulls; push to the registry's own port")
        return
    if on_docker_hub_port:  # every name Docker Hub's, whatever `ns` says
        host = DOCKER_HUB
        served = await mirrors.names.docker_hub_mirrored(scope(request), name)
    else:
        host = request.query.get(NAMESPACE_PARAMETER, "")
        if not host or host.lower() == request.host.lower():
            return  # no mirror's request (an empty ns names no upstream), or one naming this very server
        if _HOST.fullmatch(host) is None:
            raise Unsupported("ns names the upstream registry of a mirror request: a host with an optional port")
        served = await mirrors.names.mirrored(scope(request), host, name)
        if served is None:
            log.warning("no pull-through cache rule has upstream %s for the mirror request of %s", host, name)
    if served is None:
        if caller.account is None:
            raise Unauthorized()
        raise NoMirrorRule(host, name, scope(request).account_id)
    set_repository(request, served)


def answers_anyone(request: web.Request) -> bool:
    """Whether `/v2/` itself answers a caller without credentials: on the Docker Hub mirror port, as Docker's
    daemon needs before each pull."""
    mirrors = request.app.get(MIRRORS)
    return mirrors is not None and _on_docker_hub_port(request, mirrors)


def _on_docker_hub_port(request: web.Request, mirrors: Mirrors) -> bool:
    return mirrors.docker_hub_port is not None and _arrived_at(request) == mirrors.docker_hub_port


def _arrived_at(request: web.Request) -> int | None:
    """The port of this server the request's connection came to. Over TLS the event loop's side of a connection is
    a socket pair, and the relay (tls/relay.py) knows the port; else the socket does."""
    relay = getattr(request.protocol, "file_relay", None)
    port = getattr(relay, "local_port", None)
    if isinstance(port, int):
        return port
    transport = request.transport
    address = None if transport is None else transport.get_extra_info("sockname")
    return address[1] if isinstance(address, tuple) and len(address) >= 2 else None
