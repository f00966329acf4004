"""containerd run by a test: its own daemon over a directory, driven with `ctr`, pulling through a registry mirror
written as containerd's hosts.toml.

Choices, and why:
- Everything the daemon keeps (root, state, the opt plugin's path, temporary mounts) lives under one directory,
  and the config is passed with `--config`: the machine's own containerd configuration and state are never read or
  written. The CRI plugin is disabled (it would start a Kubernetes runtime service and want CNI), and so are the
  btrfs, zfs, devmapper and aufs snapshotters (each probes the machine and only logs noise when it cannot serve).
- The socket lives in a short directory of its own: a Unix socket's path is limited to 107 bytes, which a test's
  temporary directory can exceed (containerd adds `.ttrpc` for its second socket).
- Content is isolated per namespace (the bolt plugin's `content_sharing_policy = "isolated"`). With the default
  ("shared") a blob that one namespace holds is handed to another without a download, so a second pull would prove
  nothing; isolated, a pull in a fresh namespace downloads everything again, as a fresh machine would.
- `pull` unpacks the layers into a snapshotter; the `native` one copies files and needs neither overlayfs nor a
  kernel that allows overlay mounts where the tests run (a container, say). `fetch` (`ctr content fetch`) only
  downloads what the platform needs into the content store: the pure transfer, for tests about what went over the
  wire.
- `ctr` resolves and downloads itself (containerd 1.6 has no transfer service), so `--hosts-dir` and `--user` are
  flags of the command, not of the daemon's config.

The mirror (`write_mirror_hosts`): `<hosts dir>/<host:port>/hosts.toml` names the mirror as a `[host]` with the
capabilities `pull` and `resolve`, and the image's own registry as `server`. Were the mirror to fail, containerd
would fall back to the server: it is a dead address (`127.0.0.1:9`, the discard port, on which nothing listens), so
a pull that succeeds went through the mirror and nothing else. The mirror has no `push`: a push through it would
land in the cache instead of the registry the image is named after. containerd adds `?ns=<host:port>` (the image's
registry) to every request it sends to a host other than that registry, push capability or not.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from testkit.servers import start_daemon, stop_process_group

CTR_TIMEOUT: Final = 120.0  # seconds: one ctr command, a pull of a small image included, on a loaded machine
STOP_TIMEOUT: Final = 10.0
READY_PROBE_TIMEOUT: Final = 10.0  # one `ctr version` while the daemon starts
# A port nothing listens on: the `server` of a hosts.toml, so that containerd cannot fall back past the mirror.
DEAD_SERVER: Final = "http://127.0.0.1:9"
NATIVE_SNAPSHOTTER: Final = "native"
DISABLED_PLUGINS: Final = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.aufs",
)


def containerd_installed() -> bool:
    return shutil.which("containerd") is not None and shutil.which("ctr") is not None


def write_mirror_hosts(hosts_dir: Path, registry: str, mirror_url: str) -> Path:
    """Make `mirror_url` (http://host:port, with a path when the mirror wants one) the only way to `registry`
    (host:port, as image names spell it) for ctr's `--hosts-dir hosts_dir`; returns the hosts.toml."""
    directory = hosts_dir / registry
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hosts.toml"
    path.write_text(f'server = "{DEAD_SERVER}"\n\n[host."{mirror_url}"]\n  capabilities = ["pull", "resolve"]\n')
    return path


@dataclass
class Containerd:
    """A containerd daemon over `root_dir`, started in its own process group, its log in `root_dir/containerd.log`."""

    root_dir: Path
    process: subprocess.Popen[bytes] | None = None
    socket_dir: Path | None = None

    @property
    def socket(self) -> Path:
        assert self.socket_dir is not None, "containerd is not started"
        return self.socket_dir / "containerd.sock"

    @property
    def log_path(self) -> Path:
        return self.root_dir / "containerd.log"

    def start(self) -> Self:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir = Path(tempfile.mkdtemp(prefix="containerd-"))
        config = self.root_dir / "config.toml"
        config.write_text(self._config())
        try:
            self.process = start_daemon(
                "containerd",
                ["containerd", "--config", str(config)],
                self.log_path,
                lambda: self.socket.exists() and self.ctr("version", timeout=READY_PROBE_TIMEOUT).returncode == 0,
            )
        except BaseException:
            self.stop()  # what start() made
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, signal.SIGTERM, STOP_TIMEOUT)
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def ctr(
        self, *arguments: str, namespace: str = "default", timeout: float = CTR_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """`ctr --address <socket> -n <namespace> <arguments>`; raises subprocess.TimeoutExpired past `timeout`,
        never on a failure of ctr itself."""
        return subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", namespace, *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pull(
        self,
        reference: str,
        hosts_dir: Path,
        *,
        namespace: str = "default",
        user: str | None = None,
        platform: str | None = None,
        snapshotter: str = NATIVE_SNAPSHOTTER,
    ) -> subprocess.CompletedProcess[str]:
        """`ctr images pull`: download what `platform` (this machine's when None) needs and unpack it;
        `user` is `name:password`."""
        return self.ctr(
            "images",
            "pull",
            "--hosts-dir",
            str(hosts_dir),
            "--snapshotter",
            snapshotter,
            *_options(user, platform),
            reference,
            namespace=namespace,
        )

    def fetch(
        self,
        reference: str,
        hosts_dir: Path,
        *,
        platform: str,
        namespace: str = "default",
        user: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`ctr content fetch`: download what `platform` needs into the content store, nothing unpacked."""
        return self.ctr(
            "content", "fetch", "--hosts-dir", str(hosts_dir), *_options(user, platform), reference, namespace=namespace
        )

    def _config(self) -> str:
        disabled = ", ".join(f'"{plugin}"' for plugin in DISABLED_PLUGINS)
        return (
            "version = 2\n"
            f'root = "{self.root_dir / "root"}"\n'
            f'state = "{self.root_dir / "state"}"\n'
            f"disabled_plugins = [{disabled}]\n"
            "\n[grpc]\n"
            f'  address = "{self.socket}"\n'
            '\n[plugins."io.containerd.internal.v1.opt"]\n'
            f'  path = "{self.root_dir / "opt"}"\n'
            '\n[plugins."io.containerd.metadata.v1.bolt"]\n'
            '  content_sharing_policy = "isolated"\n'
        )


def _options(user: str | None, platform: str | None) -> Sequence[str]:
    return [*(["--user", user] if user else []), *(["--platform", platform] if platform else [])]
