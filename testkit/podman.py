"""podman run by a test: pulls through a registry mirror written as registries.conf, with every file podman reads or
writes kept under one directory.

Choices, and why:
- registries.conf names the image's registry (`[[registry]] prefix`) with a dead `location` (`127.0.0.1:9`, the
  discard port, on which nothing listens) and the mirror under it (`[[registry.mirror]]`). podman tries the mirror
  first and the location after it: a dead location means a pull that succeeds went through the mirror and nothing
  else. Both are `insecure` (plain HTTP on loopback). The mirror's location may carry a path
  (`127.0.0.1:5000/prefix`): podman then asks for `/v2/prefix/<repository>/...`, which is how a pull-through cache
  rule's prefix is reached without any help from the server.
- Storage is `vfs` under the directory (`--root`, and a storage.conf saying the same): vfs copies layers and needs
  no overlay mounts, so it works wherever the tests run. The run root (`--runroot`) is a short temporary directory
  instead: podman refuses one longer than 50 characters.
- The environment points every other file podman would read at the directory: CONTAINERS_REGISTRIES_CONF,
  CONTAINERS_STORAGE_CONF, CONTAINERS_CONF, REGISTRY_AUTH_FILE (an empty auth file), HOME and the XDG directories
  (per-user configuration), TMPDIR (where layers are staged); `--tmpdir` holds libpod's state, `--events-backend
  none` keeps events out of the journal, and the signature policy accepts anything (the machine's may not).
  Drop-in files in the machine's registries.conf.d are still read (podman offers no way around them); they would
  have to name this loopback registry to matter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Self

PODMAN_TIMEOUT: Final = 120.0  # seconds: one podman command, a pull of a small image included, on a loaded machine
DEAD_LOCATION: Final = "127.0.0.1:9"


def podman_installed() -> bool:
    return shutil.which("podman") is not None


@dataclass
class Podman:
    """podman over `root_dir`, pulling `registry` (host:port, as image names spell it) through `mirror` (host:port,
    with a path when the mirror wants one)."""

    root_dir: Path
    registry: str
    mirror: str
    # podman refuses a run root longer than 50 characters, which a test's temporary directory exceeds: a short
    # directory of its own, removed by close().
    run_root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="podman-")))
    # registries.conf as a user writes it, in place of the one naming `registry` and `mirror` alone.
    registries_conf: str | None = None

    def __post_init__(self) -> None:
        for name in ("storage", "tmp", "libpod", "home", "config", "data", "runtime"):
            (self.root_dir / name).mkdir(parents=True, exist_ok=True)
        (self.root_dir / "registries.conf").write_text(
            self.registries_conf
            if self.registries_conf is not None
            else "unqualified-search-registries = []\n\n"
            "[[registry]]\n"
            f'prefix = "{self.registry}"\n'
            f'location = "{DEAD_LOCATION}"\n'
            "insecure = true\n\n"
            "[[registry.mirror]]\n"
            f'location = "{self.mirror}"\n'
            "insecure = true\n"
        )
        (self.root_dir / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.storage}"\nrunroot = "{self.run_root}"\n'
        )
        (self.root_dir / "containers.conf").write_text(
            f'[engine]\ntmp_dir = "{self.root_dir / "libpod"}"\nevents_logger = "none"\n'
        )
        (self.root_dir / "auth.json").write_text("{}")
        (self.root_dir / "policy.json").write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))

    @property
    def storage(self) -> Path:
        return self.root_dir / "storage"

    def podman(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """`podman <global options> <arguments>`, bounded by PODMAN_TIMEOUT; never raises on a failure of podman."""
        return subprocess.run(
            [
                "podman",
                "--root",
                str(self.storage),
                "--runroot",
                str(self.run_root),
                "--storage-driver",
                "vfs",
                "--tmpdir",
                str(self.root_dir / "libpod"),
                "--events-backend",
                "none",
                "--cgroup-manager",
                "cgroupfs",
                *arguments,
            ],
            capture_output=True,
            text=True,
            timeout=PODMAN_TIMEOUT,
            check=False,
            env=self._environment(),
        )

    def pull(
        self, reference: str, *, platform: str | None = None, credentials: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`podman pull`; `credentials` is `name:password`."""
        return self.podman(
            "pull",
            "--signature-policy",
            str(self.root_dir / "policy.json"),
            *(["--platform", platform] if platform else []),
            *(["--creds", credentials] if credentials else []),
            reference,
        )

    def close(self) -> None:
        shutil.rmtree(self.run_root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _environment(self) -> dict[str, str]:
        kept = {name: value for name, value in os.environ.items() if name in ("PATH", "LANG", "LC_ALL")}
        return {
            **kept,
            "CONTAINERS_REGISTRIES_CONF": str(self.root_dir / "registries.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.root_dir / "storage.conf"),
            "CONTAINERS_CONF": str(self.root_dir / "containers.conf"),
            "REGISTRY_AUTH_FILE": str(self.root_dir / "auth.json"),
            "HOME": str(self.root_dir / "home"),
            "XDG_CONFIG_HOME": str(self.root_dir / "config"),
            "XDG_DATA_HOME": str(self.root_dir / "data"),
            "XDG_RUNTIME_DIR": str(self.root_dir / "runtime"),
            "TMPDIR": str(self.root_dir / "tmp"),
        }
