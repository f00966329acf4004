"""The README's registry-mirror recipe, as written: its pull-through cache rules, the policies that let runtimes
pull anonymously, its containerd hosts.toml files and its registries.conf, read from the README and run with
containerd and podman against a real server.

What is read from the README (and so fails here when the README changes it wrongly): the rules' prefixes, upstream
URLs and credentials (its `aws ecr create-pull-through-cache-rule` commands), its other `aws ecr` commands (the
creation template and registry policy, run with the aws CLI as written), each hosts.toml (after its
`# /etc/containerd/certs.d/<host>/hosts.toml` line) and the registries.conf stanzas. What changes, and only that:
the server's name (`cache.example.com:5000`) becomes this test's server, plain HTTP (hosts.toml loses its `ca`,
a registries.conf mirror gains `insecure = true`), every registry a runtime could fall back to becomes a dead
address (`127.0.0.1:9`), and the credential ARNs become those of secrets created under the names the README gives.
The server's /v2/ is closed to callers without credentials, as the README's is: the runtimes pull anonymously,
as a node's runtime does, and only the README's policies let them.

No request may reach the public internet. The server is started with `--upstream-deny 0.0.0.0/0 --upstream-deny
::/0`, which refuses every address a name resolves to (loopback included) while rules naming any host can still
be created. But that deny applies to the addresses a lookup returns, and the lookup of `registry-1.docker.io`
would itself go to the machine's DNS resolver: so the server runs under a launcher that answers every name but
`localhost` with a documentation address (192.0.2.1, RFC 5737) in the process itself, which the deny then refuses
as it would the answer of a real lookup. No name is looked up and no connection is made.

A pull therefore fails, and pullcache's answer shows which rule the recipe reached: the request the runtime sent
(containerd's names the upstream host in `?ns=`, podman's names the rule's prefix in its path), sent again to read
the answer's body, is answered 503 because that rule's upstream host is refused; a host no rule serves is answered
404 NAME_UNKNOWN instead. One server and one containerd serve the whole module, and nothing waits on a timeout.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import tomllib
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from testkit.aws_clients import aws_cli, client, registry_password
from testkit.containerd import DEAD_SERVER, Containerd, containerd_installed
from testkit.podman import DEAD_LOCATION, Podman, podman_installed
from testkit.servers import PullcacheServer
from tests.integration.access_log import ACCESS_LOGGER, log_lines, log_mark
from tests.integration.cached_images import get

README: Final = Path(__file__).resolve().parents[2] / "README.md"
SECTION_HEADING: Final = "## A registry mirror"
MIRROR_NAME: Final = "cache.example.com:5000"  # the README's name for the server
MIRROR_URL: Final = f"https://{MIRROR_NAME}"
HOSTS_TOML_LINE: Final = re.compile(r"^# /etc/containerd/certs\.d/(?P<host>[^/\s]+)/hosts\.toml\s*$", re.MULTILINE)
CREATE_RULE: Final = ("aws", "ecr", "create-pull-through-cache-rule")
SECRET_NAME: Final = re.compile(r"ecr-pullthroughcache/[A-Za-z0-9/_+=.@-]+")  # ECR's pattern for a rule's secret
COMMAND_START: Final = re.compile(r"[a-z]")  # a line of a shell block that starts a command (not `  --option`)
# An image of each upstream the issue names: containerd pulls `<host>/<repository>:<tag>` through its hosts.toml.
IMAGES: Final = {
    "docker.io": ("library/alpine", "3.20"),
    "quay.io": ("coreos/etcd", "v3.5.0"),
    "ghcr.io": ("org/app", "1"),
    "registry.k8s.io": ("pause", "3.9"),
}
PODMAN_HOSTS: Final = ("docker.io", "quay.io")  # the registries the README's registries.conf block spells out
UNSERVED_HOST: Final = "example.org"  # a host no rule of the README has
# What the launcher answers for every name (RFC 5737 TEST-NET-1: an address no host on the internet has).
LOOKED_UP_ADDRESS: Final = "192.0.2.1"
DENY_EVERYTHING: Final = ("--upstream-deny", "0.0.0.0/0", "--upstream-deny", "::/0")
SHORT_UPSTREAM_WAITS: Final = (
    "--upstream-connect-timeout",
    "2",
    "--upstream-first-byte-timeout",
    "5",
    "--upstream-request-timeout",
    "10",
)
LAUNCHER: Final = f"""\
import socket
import sys

_lookup = socket.getaddrinfo


def _no_name_service(host, port, family=0, type=0, proto=0, flags=0):
    # Addresses and localhost as the C library reads them (no lookup); any other name is {LOOKED_UP_ADDRESS}.
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name == "localhost":
        return _lookup(host, port, family, type, proto, flags)
    try:
        return _lookup(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    except socket.gaierror:
        return [(socket.AF_INET, type or socket.SOCK_STREAM, proto, "", ("{LOOKED_UP_ADDRESS}", int(port or 0)))]


socket.getaddrinfo = _no_name_service

from pullcache.cli import main

main(sys.argv[1:])
"""
REGISTRY_USER: Final = "AWS"  # the user name of GetAuthorizationToken's password
MANIFEST_TYPES: Final = ",".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
CONTAINERD_AGENT: Final = "containerd/"
PODMAN_AGENT: Final = "containers/"

needs_containerd = pytest.mark.skipif(not containerd_installed(), reason="containerd and ctr are not installed")
needs_podman = pytest.mark.skipif(not podman_installed(), reason="podman is not installed")


# -- the recipe, as the README writes it --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    prefix: str
    upstream_url: str
    credential_arn: str | None


@dataclass(frozen=True)
class Recipe:
    rules: tuple[Rule, ...]
    policy_commands: tuple[tuple[str, ...], ...]  # the other `aws ecr` commands: who may pull, as words
    hosts_tomls: dict[str, str]  # by the host of its `# /etc/containerd/certs.d/<host>/hosts.toml` line
    registries_conf: str

    def hosts_toml(self, host: str) -> str:
        assert host in self.hosts_tomls, f"the README has no hosts.toml for {host}: {sorted(self.hosts_tomls)}"
        return self.hosts_tomls[host]

    def upstream_of(self, host: str) -> str:
        """The host of the registry the README's hosts.toml for `host` names as its `server`."""
        return url_host(tomllib.loads(self.hosts_toml(host))["server"])

    def rule_for(self, host: str) -> Rule:
        """The README's rule whose upstream is the `server` of the README's hosts.toml for `host`."""
        upstream = self.upstream_of(host)
        rules = [rule for rule in self.rules if url_host(rule.upstream_url) == upstream]
        assert len(rules) == 1, f"the README has {len(rules)} rules for {upstream} (the server of {host}'s hosts.toml)"
        return rules[0]


def url_host(url: str) -> str:
    """The host of a URL, or of a registry named without a scheme (`quay.io`, `cache.example.com:5000/quay`)."""
    host = urllib.parse.urlsplit(url if "://" in url else f"https://{url}").hostname
    assert host, f"no host in {url!r}"
    return host


def mirror_section(text: str) -> str:
    start = text.index(f"\n{SECTION_HEADING}")
    end = text.find("\n## ", start + 1)
    return text[start : len(text) if end < 0 else end]


def fenced_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", section, flags=re.DOTALL | re.MULTILINE)


def aws_ecr_commands(section: str) -> list[list[str]]:
    """The words of each `aws ecr` command of the section's shell blocks."""
    found = []
    for block in fenced_blocks(section, "sh"):
        for command in shell_commands(block):
            words = shlex.split(command)
            if words[:2] == ["aws", "ecr"]:
                found.append(words)
    return found


def parse_rules(section: str) -> tuple[Rule, ...]:
    rules = []
    for words in aws_ecr_commands(section):
        if tuple(words[:3]) == CREATE_RULE:
            options = dict(zip(words[3::2], words[4::2], strict=True))
            rules.append(
                Rule(
                    options["--ecr-repository-prefix"],
                    options["--upstream-registry-url"],
                    options.get("--credential-arn"),
                )
            )
    return tuple(rules)


def parse_policy_commands(section: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(words) for words in aws_ecr_commands(section) if tuple(words[:3]) != CREATE_RULE)


def shell_commands(block: str) -> list[str]:
    """The commands of a shell block: each starts a line; the lines after it that start no command (continuations,
    and the rest of a quoted argument) are its own."""
    commands: list[str] = []
    for line in block.splitlines():
        if commands and not COMMAND_START.match(line):
            commands[-1] += "\n" + line
        else:
            commands.append(line)
    return [command.replace("\\\n", " ") for command in commands]


def parse_hosts_tomls(section: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in fenced_blocks(section, "toml"):
        starts = list(HOSTS_TOML_LINE.finditer(block))
        for number, start in enumerate(starts):
            end = starts[number + 1].start() if number + 1 < len(starts) else len(block)
            found[start["host"]] = block[start.start() : end]
    return found


def parse_registries_conf(section: str) -> str:
    blocks = [block for block in fenced_blocks(section, "toml") if "[[registry]]" in block]
    assert len(blocks) == 1, f"the README's mirror section has {len(blocks)} registries.conf blocks"
    return blocks[0]


def read_recipe() -> Recipe:
    section = mirror_section(README.read_text())
    return Recipe(
        parse_rules(section),
        parse_policy_commands(section),
        parse_hosts_tomls(section),
        parse_registries_conf(section),
    )


# -- the recipe, made runnable here -------------------------------------------------------------------------------


def runnable_hosts_toml(text: str, server: PullcacheServer) -> str:
    """The README's hosts.toml with this server as the mirror (plain HTTP: no `ca`) and a dead `server`."""
    assert MIRROR_URL in text, f"the hosts.toml does not name the mirror {MIRROR_URL}:\n{text}"
    lines = [
        f'server = "{DEAD_SERVER}"' if line.strip().startswith("server =") else line
        for line in text.replace(MIRROR_URL, server.url).splitlines()
        if not line.strip().startswith("ca =")
    ]
    written = "\n".join(lines) + "\n"
    parsed = tomllib.loads(written)
    # Nothing but the dead server and this one: containerd can reach no other registry through the file.
    assert parsed["server"] == DEAD_SERVER
    assert set(parsed["host"]) == {server.url}, parsed
    assert "push" not in parsed["host"][server.url]["capabilities"], "the README gives the mirror push"
    return written


def runnable_registries_conf(text: str, server: PullcacheServer) -> str:
    """The README's registries.conf with this server as each mirror (plain HTTP: `insecure = true`) and a dead
    location for each registry."""
    assert MIRROR_NAME in text, f"the registries.conf does not name the mirror {MIRROR_NAME}:\n{text}"
    lines: list[str] = []
    table = ""
    for line in text.replace(MIRROR_NAME, server.address).splitlines():
        stripped = line.strip()
        if stripped.startswith("[["):
            table = stripped
        if stripped.startswith("location =") and table == "[[registry]]":
            line = f'location = "{DEAD_LOCATION}"'
        lines.append(line)
        if stripped.startswith("location =") and table == "[[registry.mirror]]":
            lines.append("insecure = true")
    written = "unqualified-search-registries = []\n\n" + "\n".join(lines) + "\n"
    for registry in tomllib.loads(written)["registry"]:
        assert registry["location"] == DEAD_LOCATION
        assert all(mirror["location"].startswith(f"{server.address}/") for mirror in registry.get("mirror", []))
    return written


def podman_mirror_prefix(recipe: Recipe, host: str) -> str:
    """The path of the registries.conf mirror of the registry `host`: the prefix the README gives it."""
    conf = tomllib.loads(recipe.registries_conf)
    registries = [registry for registry in conf.get("registry", []) if registry.get("prefix") == host]
    assert len(registries) == 1, f"the README's registries.conf has {len(registries)} stanzas for {host}"
    mirrors = [mirror["location"] for mirror in registries[0].get("mirror", [])]
    assert len(mirrors) == 1, f"the README's registries.conf gives {host} {len(mirrors)} mirrors"
    location = str(mirrors[0])
    assert location.startswith(f"{MIRROR_NAME}/"), f"{host}'s mirror is not {MIRROR_NAME}/<prefix>: {location}"
    return location.removeprefix(f"{MIRROR_NAME}/")


# -- what the server saw ------------------------------------------------------------------------------------------


def manifest_requests(lines: list[dict[str, Any]], path: str, agent: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if line.get("logger") == ACCESS_LOGGER
        and str(line.get("user_agent")).startswith(agent)
        and line["path"] == path
    ]


def answers(
    server: PullcacheServer, requests: list[dict[str, Any]], password: str | None = None
) -> set[tuple[int, str, str]]:
    """(status, code, message) of the manifest requests the access log shows, each sent again as a GET: what the
    runtime was answered (a HEAD's answer has no body to read), since the server answers a request the same way
    while nothing changes. The server's warnings cannot say it per request: it writes a warning once a minute per
    kind (logs.RepeatedLines), whichever rule it is about."""
    headers = {"Accept": MANIFEST_TYPES}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{REGISTRY_USER}:{password}".encode()).decode()
    found = set()
    for request in requests:
        query = f"?{request['query']}" if request["query"] else ""
        status, body, _ = get(f"{server.url}{request['path']}{query}", headers)
        [error] = json.loads(body)["errors"]
        found.add((status, error["code"], error["message"]))
    return found


def assert_refused(found: set[tuple[int, str, str]], rule: Rule) -> None:
    """`found` is the answer to a pull through `rule`, whose upstream the server refuses to connect to."""
    [(status, code, message)] = found
    assert (status, code) == (503, "UNSUPPORTED"), message
    assert f"the upstream destination {url_host(rule.upstream_url)} is refused" in message


# -- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return read_recipe()


@pytest.fixture(scope="module")
def cache(recipe: Recipe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    """The server with every destination denied, its name lookups answered in the process, and the README's rules
    (their credentials in secrets named as the README names them)."""
    root = tmp_path_factory.mktemp("recipe")
    launcher = root / "launch.py"
    launcher.write_text(LAUNCHER)
    server = PullcacheServer(
        root / "data",
        log_level="info",
        launcher=(str(launcher),),
        extra_args=(*DENY_EVERYTHING, *SHORT_UPSTREAM_WAITS),
        anonymous_registry=False,
        create_on_push=False,  # the README's ROOT template is the only one
    ).start()
    try:
        create_rules(server, recipe.rules)
        for words in recipe.policy_commands:
            ran = aws_cli(server, *words[1:])
            assert ran.returncode == 0, f"{shlex.join(words)}:\n{ran.stderr}"
        yield server
    finally:
        server.stop()


def create_rules(server: PullcacheServer, rules: tuple[Rule, ...]) -> None:
    ecr, secrets = client(server, "ecr"), client(server, "secretsmanager")
    for rule in rules:
        options = {"ecrRepositoryPrefix": rule.prefix, "upstreamRegistryUrl": rule.upstream_url}
        if rule.credential_arn is not None:
            # An ARN, or a command that prints one (`$(aws secretsmanager describe-secret --secret-id ...)`).
            named = SECRET_NAME.search(rule.credential_arn)
            assert named is not None, f"the README's credential of {rule.prefix} names no secret"
            created = secrets.create_secret(
                Name=named[0], SecretString=json.dumps({"username": "mirror", "accessToken": "not-a-real-token"})
            )["ARN"]
            if rule.credential_arn.startswith("arn:"):
                # The README's ARN is the secret's partial ARN: its name in the server's account and region.
                assert created.startswith(f"{rule.credential_arn}-"), (created, rule.credential_arn)
            options["credentialArn"] = created
        ecr.create_pull_through_cache_rule(**options)


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    with Containerd(tmp_path_factory.mktemp("containerd")) as daemon:
        yield daemon


# -- tests --------------------------------------------------------------------------------------------------------


def test_the_readme_has_a_rule_for_the_server_of_each_hosts_toml_and_a_hosts_toml_for_each_rule(
    recipe: Recipe,
) -> None:
    assert set(recipe.hosts_tomls) >= set(IMAGES), sorted(recipe.hosts_tomls)
    served = {recipe.upstream_of(host) for host in recipe.hosts_tomls}
    assert {url_host(rule.upstream_url) for rule in recipe.rules} == served
    assert len({rule.prefix for rule in recipe.rules}) == len(recipe.rules)


@needs_containerd
@pytest.mark.parametrize("host", list(IMAGES))
def test_containerd_with_the_readme_hosts_toml_reaches_the_rule_for_its_host(
    host: str, recipe: Recipe, cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    repository, tag = IMAGES[host]
    rule = recipe.rule_for(host)
    hosts = tmp_path / "certs.d"
    (hosts / host).mkdir(parents=True)
    (hosts / host / "hosts.toml").write_text(runnable_hosts_toml(recipe.hosts_toml(host), cache))
    mark = log_mark(cache)

    result = containerd.pull(f"{host}/{repository}:{tag}", hosts, namespace=f"recipe-{host}")

    assert result.returncode != 0  # no upstream: the pull cannot succeed
    lines = log_lines(cache, mark)
    asked = manifest_requests(lines, f"/v2/{repository}/manifests/{tag}", CONTAINERD_AGENT)
    assert asked, f"containerd asked pullcache nothing:\n{result.stderr}"
    assert {line["query"] for line in asked} == {f"ns={host}"}
    # The rule's upstream, refused: not NAME_UNKNOWN (no rule) nor the path's own repository (no mirror).
    assert {line["status"] for line in asked} == {503}
    assert_refused(answers(cache, asked), rule)


@needs_containerd
def test_containerd_asking_for_a_host_no_rule_serves_is_answered_name_unknown(
    recipe: Recipe, cache: PullcacheServer, containerd: Containerd, tmp_path: Path
) -> None:
    """The README's docker.io hosts.toml, written for a host the README has no rule for. An anonymous caller is
    only asked for credentials (it may not learn which rules exist); one who logs in learns there is no rule."""
    hosts = tmp_path / "certs.d"
    (hosts / UNSERVED_HOST).mkdir(parents=True)
    (hosts / UNSERVED_HOST / "hosts.toml").write_text(runnable_hosts_toml(recipe.hosts_toml("docker.io"), cache))
    reference = f"{UNSERVED_HOST}/team/app:1"
    password = registry_password(cache)
    mark = log_mark(cache)

    anonymous = containerd.pull(reference, hosts, namespace="recipe-unserved")
    anonymously_asked = manifest_requests(log_lines(cache, mark), "/v2/team/app/manifests/1", CONTAINERD_AGENT)
    mark = log_mark(cache)
    result = containerd.pull(reference, hosts, namespace="recipe-unserved", user=f"{REGISTRY_USER}:{password}")

    assert anonymous.returncode != 0
    assert {(line["query"], line["status"]) for line in anonymously_asked} == {(f"ns={UNSERVED_HOST}", 401)}
    assert result.returncode != 0
    asked = manifest_requests(log_lines(cache, mark), "/v2/team/app/manifests/1", CONTAINERD_AGENT)
    assert asked, f"containerd asked pullcache nothing:\n{result.stderr}"
    # ctr asks without its credentials first, and again with them once challenged.
    assert {(line["query"], line["status"]) for line in asked} == {
        (f"ns={UNSERVED_HOST}", status) for status in (401, 404)
    }
    [(status, code, message)] = answers(cache, [line for line in asked if line["status"] == 404], password)
    assert (status, code) == (404, "NAME_UNKNOWN")
    assert UNSERVED_HOST in message


@needs_podman
@pytest.mark.parametrize("host", PODMAN_HOSTS)
def test_podman_with_the_readme_registries_conf_reaches_the_rule_its_mirror_names(
    host: str, recipe: Recipe, cache: PullcacheServer, tmp_path: Path
) -> None:
    repository, tag = IMAGES[host]
    prefix = podman_mirror_prefix(recipe, host)
    assert prefix == recipe.rule_for(host).prefix, "the mirror's prefix is not the rule for the registry's upstream"
    conf = runnable_registries_conf(recipe.registries_conf, cache)
    mark = log_mark(cache)

    with Podman(tmp_path / "podman", host, "", registries_conf=conf) as podman:
        result = podman.pull(f"{host}/{repository}:{tag}")

    assert result.returncode != 0  # no upstream: the pull cannot succeed
    lines = log_lines(cache, mark)
    asked = manifest_requests(lines, f"/v2/{prefix}/{repository}/manifests/{tag}", PODMAN_AGENT)
    assert asked, f"podman asked pullcache nothing:\n{result.stderr}"
    assert {(line["query"], line["status"]) for line in asked} == {("", 503)}
    assert_refused(answers(cache, asked), recipe.rule_for(host))
