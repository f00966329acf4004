"""Docker's daemon (dockerd) run by a test: its own daemon over a directory, pulling Docker Hub names through the
registry mirror its daemon.json names (`registry-mirrors`), driven with the `docker` client.

Choices, and why:
- Everything the daemon keeps lives under the test's directory: the data root (images, the containerd it manages),
  daemon.json, the identity key (`deprecated-key-path`; by default dockerd writes /etc/docker/key.json), and the
  client's configuration (DOCKER_CONFIG). The exec root (the containerd it starts, its sockets) and the API socket
  live in a short directory of their own: a Unix socket's path is limited to 107 bytes, which a test's temporary
  directory can exceed. The machine's own daemon, socket and configuration are never read or written.
- No networking: no bridge, no iptables rules. The daemon only pulls; it runs no container.
- Storage is `vfs`: it copies layers and needs neither overlayfs nor a kernel that allows overlay mounts where the
  tests run (a container, say). dockerd unpacks a layer in a mount namespace of its own.
- Docker asks the mirror first and, when the mirror fails, Docker Hub itself (https://registry-1.docker.io). The
  daemon's HTTP(S)_PROXY is a dead address (`127.0.0.1:9`, the discard port, on which nothing listens): Docker Hub
  is never reached, machine online or not, while the mirror, on loopback, is never proxied. The daemon logs at
  debug, which writes each endpoint a pull tries (`endpoints_tried`): a pull that tried the mirror alone needed no
  fallback.

What dockerd leaves behind, and how stop() undoes it:
- It bind-mounts its data root onto itself (to make its mounts shared) and unmounts it when it stops cleanly; a
  daemon killed leaves the mount, so stop() unmounts whatever is still mounted under the data or exec root.
- It starts containerd in a process group of its own, stops it when it stops cleanly and has the kernel kill it
  when it dies (a parent-death signal); stop() still ends one that is left running (its pid file is in the exec
  root), whatever the daemon's version does.
- It creates /run/docker/plugins (a path fixed in the daemon) when missing; stop() removes it again when it was
  missing before start() and is empty.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Self

from testkit.servers import start_daemon, stop_process_group

DOCKER_TIMEOUT: Final = 120.0  # seconds: one docker command, a pull of a small image included, on a loaded machine
STOP_TIMEOUT: Final = 20.0  # dockerd stops its containerd before it exits
READY_PROBE_TIMEOUT: Final = 10.0  # one `docker version` while the daemon starts
# Where Docker Hub would be reached: a proxy nothing listens on.
DEAD_PROXY: Final = "http://127.0.0.1:9"
DOCKER_HUB: Final = "https://registry-1.docker.io"
# Fixed in dockerd 20.10 (getPluginExecRoot), whatever its exec root.
PLUGIN_EXEC_ROOT: Final = Path("/run/docker/plugins")
# The debug line of each endpoint a pull tries: `Trying to pull app from http://127.0.0.1:5000/ v2` (the protocol
# version is optional: dockerd without the v1 protocol has no reason to write it).
_TRYING: Final = re.compile(r'msg="Trying to pull \S+ from (\S+?)(?: v\d)?"')


def dockerd_installed() -> bool:
    return shutil.which("dockerd") is not None and shutil.which("docker") is not None


@dataclass
class Dockerd:
    """A Docker daemon over `root_dir` whose registry mirror is `mirror_url` (http://host:port), started in its
    own process group, its log in `root_dir/dockerd.log`."""

    root_dir: Path
    mirror_url: str
    process: subprocess.Popen[bytes] | None = None
    run_dir: Path | None = None  # the exec root and the API socket
    _created_plugin_root: bool = field(default=False, repr=False)

    @property
    def socket(self) -> Path:
        assert self.run_dir is not None, "dockerd is not started"
        return self.run_dir / "docker.sock"

    @property
    def exec_root(self) -> Path:
        assert self.run_dir is not None, "dockerd is not started"
        return self.run_dir / "exec"

    @property
    def data_root(self) -> Path:
        return self.root_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.root_dir / "dockerd.log"

    def start(self) -> Self:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = Path(tempfile.mkdtemp(prefix="dockerd-"))
        self._created_plugin_root = not PLUGIN_EXEC_ROOT.exists()
        config = self.root_dir / "daemon.json"
        config.write_text(
            json.dumps(
                {
                    "registry-mirrors": [self.mirror_url],
                    "debug": True,
                    "deprecated-key-path": str(self.root_dir / "key.json"),
                }
            )
        )
        command = [
            "dockerd",
            "--config-file",
            str(config),
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "--pidfile",
            str(self.run_dir / "dockerd.pid"),
            "--host",
            f"unix://{self.socket}",
            "--storage-driver",
            "vfs",
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
        ]
        try:
            self.process = start_daemon(
                "dockerd",
                command,
                self.log_path,
                lambda: self.socket.exists() and self.docker("version", timeout=READY_PROBE_TIMEOUT).returncode == 0,
                environment={**os.environ, "HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "NO_PROXY": ""},
                step=0.1,
            )
        except BaseException:
            self.stop()  # what start() made, mounts included
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, signal.SIGTERM, STOP_TIMEOUT)
        if self.run_dir is not None:
            self._stop_left_containerd()
            self._unmount_left_mounts()
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self._created_plugin_root:
            for directory in (PLUGIN_EXEC_ROOT, PLUGIN_EXEC_ROOT.parent):
                try:
                    directory.rmdir()
                except OSError:
                    break  # not empty: another daemon's now

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def docker(self, *arguments: str, timeout: float = DOCKER_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """`docker --host <socket> <arguments>`; raises subprocess.TimeoutExpired past `timeout`, never on a failure
        of docker itself."""
        return subprocess.run(
            ["docker", "--host", f"unix://{self.socket}", *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "DOCKER_CONFIG": str(self.root_dir / "client")},
        )

    def pull(self, reference: str) -> subprocess.CompletedProcess[str]:
        return self.docker("pull", reference)

    def endpoints_tried(self, since: int = 0) -> list[str]:
        """The registry URLs the daemon's pulls tried, in order, from the log after offset `since`."""
        return _TRYING.findall(self.log()[since:])

    def _stop_left_containerd(self) -> None:
        """End the containerd dockerd started, when dockerd did not (a daemon killed, say)."""
        pid_file = self.exec_root / "containerd" / "containerd.pid"
        try:
            pid = int(pid_file.read_text().strip())
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return  # gone, or never started
        if str(self.exec_root).encode() not in command_line:
            return  # the pid is another process's now
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(pid):
            os.kill(pid, signal.SIGKILL)

    def _unmount_left_mounts(self) -> None:
        """Unmount, deepest first, what is still mounted at or under the data root or the exec root."""
        roots = [str(self.data_root), str(self.exec_root)]
        for mount_point in sorted(_mount_points(), key=len, reverse=True):
            if any(mount_point == root or mount_point.startswith(root + "/") for root in roots):
                subprocess.run(["umount", "--lazy", mount_point], capture_output=True, check=False)


def _running(pid: int) -> bool:
    """Whether `pid` runs: neither gone nor a zombie (an orphan is reaped by init, which may take its time)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # the state follows the command name, which may hold ")"


def _mount_points() -> list[str]:
    """This process's mount points (the fifth field of mountinfo, whose spaces and the like are octal escapes)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal[1], 8)), line.split()[4]) for line in lines]
