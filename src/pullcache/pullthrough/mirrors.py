"""Which pull-through cache rule serves a runtime that uses this server as a registry mirror, and under what name.

A runtime configured with a mirror keeps the image's own name and asks the mirror for the upstream's repository:

    containerd (hosts.toml)   GET /v2/library/alpine/manifests/3.20?ns=docker.io    -> hub/library/alpine
                              GET /v2/coreos/etcd/manifests/v3?ns=quay.io            -> quay/coreos/etcd
    Docker (registry-mirrors) GET /v2/library/alpine/manifests/3.20                  -> hub/library/alpine
                                                                       (with --docker-hub-mirror hub)

`ns` is the image name's host as written, port included. A rule serves it when its upstream URL has that host;
Docker Hub's names (docker.io, index.docker.io, registry-1.docker.io, registry.hub.docker.com) all stand for one
host. Among several rules of one host, the one whose upstream repository prefix the repository starts with (the
longest), else one without such a prefix; then the shortest local prefix (ROOT last), then the first by name: the
same request always lands in the same repository. A rule serves only names the cache itself would take for that
rule's: `quay/app` is the `quay` rule's, whichever host asks for it.

Docker Hub's short names gain `library/` (`alpine` is `library/alpine`), so that every runtime, and every user who
pulls `hub/alpine`, shares one upstream name.
"""

from __future__ import annotations

from collections.abc import Iterable

from pullcache.pullthrough.rules import DOCKER_HUB_HOST, DOCKER_HUB_OFFICIAL, ROOT_PREFIX, PullThroughRule, match_rule

DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", DOCKER_HUB_HOST, "registry.hub.docker.com"})
_DEFAULT_PORTS = (":443", ":80")
_ROOT_RANK = 1 << 16  # ROOT after every named prefix (prefixes are at most 256 characters)


def canonical_host(text: str) -> str:
    """`host[:port]` of a registry name or URL, lower-cased, without a scheme, a path or a default port; every name
    of Docker Hub as DOCKER_HUB_HOST."""
    host = text.strip().lower()
    host = host.split("://", 1)[-1].split("/", 1)[0]
    for port in _DEFAULT_PORTS:
        if host.endswith(port):
            host = host[: -len(port)]
    return DOCKER_HUB_HOST if host in DOCKER_HUB_NAMES else host


def mirror_rule(rules: Iterable[PullThroughRule], host: str, repository: str) -> PullThroughRule | None:
    """The rule that serves `repository` of the upstream `host` (an `ns`), or None when no rule does."""
    wanted = canonical_host(host)
    every = tuple(rules)
    candidates = [
        rule
        for rule in every
        if canonical_host(rule.upstream_url) == wanted
        and _upstream_rest(rule, repository) is not None
        and match_rule(every, local_repository(rule, repository)) is rule
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda rule: (-len(_upstream_prefix(rule)), _local_rank(rule), rule.prefix))


def local_repository(rule: PullThroughRule, repository: str) -> str:
    """The local name of the upstream's `repository` under `rule` (which mirror_rule chose for it)."""
    rest = _upstream_rest(rule, repository)
    assert rest is not None, "a rule whose upstream repository prefix covers the repository"
    return rest if rule.prefix == ROOT_PREFIX else f"{rule.prefix}/{rest}"


def docker_hub_repository(repository: str) -> str:
    """A name as Docker's daemon sends it to a mirror, in Docker Hub's own form (`alpine` is `library/alpine`)."""
    return repository if "/" in repository else f"{DOCKER_HUB_OFFICIAL}/{repository}"


def _upstream_prefix(rule: PullThroughRule) -> str:
    prefix = rule.upstream_repository_prefix or ""
    return "" if prefix == ROOT_PREFIX else prefix


def _upstream_rest(rule: PullThroughRule, repository: str) -> str | None:
    """What of the upstream's `repository` (Docker Hub's short names made whole) follows the rule's upstream
    repository prefix; None when it lies outside it."""
    if rule.is_docker_hub:
        repository = docker_hub_repository(repository)
    prefix = _upstream_prefix(rule)
    if not prefix:
        return repository
    return repository[len(prefix) + 1 :] if repository.startswith(f"{prefix}/") else None


def _local_rank(rule: PullThroughRule) -> int:
    return _ROOT_RANK if rule.prefix == ROOT_PREFIX else len(rule.prefix)
