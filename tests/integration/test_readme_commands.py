"""The README's quick start and pull-through example, run as written: every shell block between
`<!-- readme-test:begin -->` and `<!-- readme-test:end -->`, in order, in one bash with `set -euo pipefail`,
against a real server this test starts, with the files that server wrote on first start, the `aws` CLI of
`pip install awscli` (v1, which fetches any `http://` parameter value unless its config says not to), skopeo, and
a CNCF Distribution as the plain-HTTP upstream.

Only what the README fixes for its reader changes, and only through the variables it exports for them: the port
(a free one here) and the upstream's URL (the Distribution's). The data dir is `./pullcache-data` as written,
the commands run in a directory laid out as the repository's after `scripts/serve` (`.venv/` in it, `image.tar`
beside it), and `pullcache` is found as the README spells it, never on PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import pytest

from testkit.aws_clients import client
from testkit.images import OciLayout, write_image
from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo

README: Final = Path(__file__).resolve().parents[2] / "README.md"
BEGIN: Final = "<!-- readme-test:begin -->"
END: Final = "<!-- readme-test:end -->"
DATA_DIR: Final = "pullcache-data"  # the README's ./pullcache-data, kept as written
# The image the README's pull-through example pulls from its upstream, and the README's rule prefix.
UPSTREAM_REPOSITORY: Final = "library/alpine"
UPSTREAM_TAG: Final = "3.20"
RULE_PREFIX: Final = "mirror"
SCRIPT_TIMEOUT: Final = 300


def readme_blocks(text: str) -> list[str]:
    """The bodies of the ```sh blocks between the markers, in order."""
    start, end = text.index(BEGIN), text.index(END)
    assert start < end, "the README's readme-test markers are out of order"
    return re.findall(r"```sh\n(.*?)```", text[start:end], flags=re.DOTALL)


def substituted(line: str, values: Mapping[str, str], seen: set[str]) -> str:
    """`line`, or (an `export` of assignments alone) the same export with this test's value for each variable of
    `values`; the others as written."""
    words = shlex.split(line) if line.startswith("export ") else []
    assignments = dict(word.split("=", 1) for word in words[1:] if "=" in word)
    if not assignments or len(assignments) != len(words) - 1 or not assignments.keys() & values.keys():
        return line
    seen.update(assignments.keys() & values.keys())
    return "export " + " ".join(f"{name}={shlex.quote(values.get(name, value))}" for name, value in assignments.items())


def path_without_pullcache() -> str:
    """PATH without any directory that has `pullcache`, so that the README's spelling of it is what is tested."""
    kept = [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry and not _has_pullcache(entry)]
    return os.pathsep.join(kept)


def _has_pullcache(directory: str) -> bool:
    return (Path(directory) / "pullcache").exists()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory as the reader's is after `scripts/serve`: the environment in `.venv`."""
    directory = tmp_path / "checkout"
    directory.mkdir()
    (directory / ".venv").symlink_to(Path(sys.prefix))
    return directory


@pytest.fixture
def server(checkout: Path) -> Iterator[PullcacheServer]:
    """The server the README starts: its /v2/ needs a token, and no template creates repositories on push."""
    started = PullcacheServer(checkout / DATA_DIR, anonymous_registry=False, create_on_push=False).start()
    yield started
    started.stop()


def test_the_readme_quick_start_and_pull_through_run_as_written(
    checkout: Path, server: PullcacheServer, upstream: DistributionServer, tmp_path: Path
) -> None:
    layout = OciLayout(tmp_path / "layout")
    write_image(layout, "1.0", (2048, 4096), seed=18)
    skopeo.run("copy", "--quiet", layout.reference("1.0"), f"docker-archive:{checkout / 'image.tar'}")
    upstream_reference = skopeo.docker_reference(upstream.address, UPSTREAM_REPOSITORY, UPSTREAM_TAG)
    skopeo.run("copy", "--quiet", "--dest-tls-verify=false", layout.reference("1.0"), upstream_reference)
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "aws").symlink_to(Path(sys.prefix) / "bin" / "aws")
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PULLCACHE_"))} | {
        "PATH": os.pathsep.join([str(tools), path_without_pullcache()]),
        "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),  # skopeo login's credentials, not the user's
    }
    values = {"PULLCACHE_PORT": str(server.port), "UPSTREAM_URL": upstream.url}
    seen: set[str] = set()
    script = "\n".join(
        substituted(line, values, seen) for block in readme_blocks(README.read_text()) for line in block.splitlines()
    )
    assert seen == values.keys(), f"the README no longer exports {sorted(values.keys() - seen)}"
    assert shutil.which("pullcache", path=environment["PATH"]) is None

    ran = subprocess.run(
        ["bash", "-xeuo", "pipefail", "-c", script],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )

    assert ran.returncode == 0, f"a README command failed:\n{ran.stderr}\n{ran.stdout}"
    ecr = client(server, "ecr")
    pushed = ecr.describe_images(repositoryName="team/app")["imageDetails"]
    pulled = ecr.describe_images(repositoryName=f"{RULE_PREFIX}/{UPSTREAM_REPOSITORY}")["imageDetails"]
    [rule] = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert [detail["imageTags"] for detail in pushed] == [["1.0"]]
    assert [detail["imageTags"] for detail in pulled] == [[UPSTREAM_TAG]]
    assert (rule["ecrRepositoryPrefix"], rule["upstreamRegistryUrl"]) == (RULE_PREFIX, upstream.url)
    assert (checkout / "alpine" / "index.json").exists()  # skopeo's oci:alpine:3.20 copy of the pull
    assert "OK   health" in ran.stdout  # the doctor the README runs first
