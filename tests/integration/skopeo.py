"""skopeo, the real client, run against registries on loopback (plain HTTP, so TLS verification is off)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any, Final

TIMEOUT: Final = 120.0
NO_TLS: Final = ("--src-tls-verify=false", "--dest-tls-verify=false")


class SkopeoFailed(AssertionError):
    """skopeo exited with an error; the message carries its command line and stderr."""


def run(*args: str) -> bytes:
    """Run skopeo with `args` and return its stdout; raises SkopeoFailed."""
    binary = shutil.which("skopeo")
    if binary is None:
        raise RuntimeError("skopeo is not installed (apt-get install skopeo)")
    command = [binary, "--insecure-policy", *args]
    done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
    if done.returncode != 0:
        raise SkopeoFailed(f"{' '.join(command)} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def docker_reference(address: str, repository: str, tag_or_digest: str | None = None) -> str:
    """The skopeo name of an image in the registry at `address` (host:port), by tag or digest, or (with
    neither) of the repository."""
    if tag_or_digest is None:
        return f"docker://{address}/{repository}"
    separator = "@" if ":" in tag_or_digest else ":"
    return f"docker://{address}/{repository}{separator}{tag_or_digest}"


def copy_all(source: str, destination: str) -> None:
    """Copy an image, every platform of it, refusing any change that would alter a digest."""
    run("copy", "--quiet", "--all", "--preserve-digests", *NO_TLS, source, destination)


def inspect(reference: str, *, architecture: str | None = None) -> dict[str, Any]:
    """What `skopeo inspect` reports (for an index: the image of `architecture`, or of this machine's)."""
    chosen = () if architecture is None else (f"--override-arch={architecture}",)
    report: dict[str, Any] = json.loads(run(*chosen, "inspect", "--tls-verify=false", reference))
    return report


def inspect_raw(reference: str) -> bytes:
    """The top manifest exactly as the source serves it."""
    return run("inspect", "--raw", "--tls-verify=false", reference)


def list_tags(repository_reference: str) -> list[str]:
    """The tags `skopeo list-tags` finds for `docker://host/repository`."""
    report = json.loads(run("list-tags", "--tls-verify=false", repository_reference))
    return list(report["Tags"])


def delete(reference: str) -> None:
    run("delete", "--tls-verify=false", reference)
