"""PublicHosts: where clients reach each registry of this server, as the URIs and URLs it hands out name it
(ECR's `repositoryUri`, `proxyEndpoint` and `downloadUrl`).

A name handed out must lead back to the same registry (account and region): /v2/ takes a request's registry from
a host of ECR's form, `<account>.dkr.ecr.<region>.<domain>`, and from the server's default scope otherwise
(core/scopes.py). So, in order:

    --public-host given          that host, for the default registry (as configured: it may be a proxy's name)
    --registry-domain given      `<account>.dkr.ecr.<region>.<domain>`, with the port the call arrived at when
                                 the domain names none
    an ECR-form host             the same domain, naming the registry asked for
    the default registry         the host the call arrived at (its Host header), or the public host
    any other registry           `<account>.dkr.ecr.<region>.<that host>`, the form /v2/ maps back to it

The scheme of the URLs is the server's: `https` when it serves TLS (--tls-cert, --tls self-signed), else `http`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pullcache.core.scopes import RegistryScope, domain_of_registry_host, registry_host

DEFAULT_SCHEME = "http"


@dataclass(frozen=True, slots=True)
class PublicHosts:
    """`public_host` and `domain` as configured (None: not configured); `default_scope` is the registry a host of
    no ECR form reaches; `scheme` that of the URLs handed out."""

    default_scope: RegistryScope
    public_host: str | None = None
    domain: str | None = None
    scheme: str = DEFAULT_SCHEME

    def registry_host(self, scope: RegistryScope, reached_at: str) -> str:
        """The `host[:port]` of `scope`'s registry for a call that arrived at the host `reached_at`."""
        if self.public_host is not None and scope == self.default_scope:
            return self.public_host
        if self.domain is not None:
            return registry_host(scope, _with_port(self.domain, self.public_host or reached_at))
        host = self.public_host or reached_at
        domain = domain_of_registry_host(host)
        if domain is not None:
            return registry_host(scope, domain)
        if scope == self.default_scope:
            return host
        return registry_host(scope, host)

    def registry_url(self, scope: RegistryScope, reached_at: str) -> str:
        """The registry's URL, without a trailing slash: ECR's `proxyEndpoint`, and the base of its URLs."""
        return f"{self.scheme}://{self.registry_host(scope, reached_at)}"

    def repository_uri(self, scope: RegistryScope, name: str, reached_at: str) -> str:
        """What `docker push` takes: `<registry host>/<name>`."""
        return f"{self.registry_host(scope, reached_at)}/{name}"


def _with_port(domain: str, reached_at: str) -> str:
    """`domain` with the port of `reached_at` when it names none itself (a domain of the server's own port)."""
    if _port_of(domain) is not None:
        return domain
    port = _port_of(reached_at)
    return domain if port is None else f"{domain}:{port}"


def _port_of(host: str) -> str | None:
    """The port of `host:port` or `[v6]:port`; None without one."""
    head, separator, tail = host.rpartition(":")
    if not separator or not tail.isdigit() or (":" in head and not head.endswith("]")):
        return None
    return tail
