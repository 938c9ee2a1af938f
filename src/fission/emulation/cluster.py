"""A FISSION cluster on emulated hosts: the Ray head in the client's namespace, a real
``fission server`` in each server's namespace. Used by ``emulate`` and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fission.client.cluster import health_settings, start_head
from fission.emulation.netns import EmulatedNetwork

__all__ = ["EmulatedCluster", "ray_env"]


def ray_env(token: str, period: float = 0.5, misses: int = 2) -> dict[str, str]:
    """The environment of every Ray process of the cluster: token auth and health checks."""
    return dict(
        os.environ,
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=token,
        RAY_USAGE_STATS_ENABLED="0",
        **health_settings(period, misses),
    )


class EmulatedCluster:
    """Starts the head (host ``client``) and servers on an :class:`EmulatedNetwork`."""

    def __init__(
        self, hosts: EmulatedNetwork, token_file: Path, scratch: Path, env: dict[str, str]
    ) -> None:
        self.hosts = hosts
        self.token_file = token_file
        self.scratch = scratch  # short: Ray's socket paths must fit in 107 bytes
        self.env = env
        self.starts: dict[str, int] = {}

    @property
    def client(self):  # type: ignore[no-untyped-def]
        return self.hosts.hosts["client"]

    def start_head(self) -> None:
        start_head(
            self.client.address,
            self.env,
            temp_dir=self.scratch / "client",
            wrap=self.client.command([]),
        )

    def start_server(self, name: str, server_name: str | None = None) -> None:
        """(Re)start ``fission server`` on host ``name``, named ``server_name`` (default: name)."""
        self.starts[name] = self.starts.get(name, 0) + 1  # a fresh temp folder per start
        host = self.hosts.hosts[name]
        fission = str(Path(sys.executable).parent / "fission")
        # a server is a machine of its own, with its own process ids (pid 1 upwards, so the
        # servers' job hosts share pids, as on real servers): a PID namespace, /proc to match
        self.hosts.start(name, [
            "unshare", "--pid", "--fork", "--mount-proc",
            fission, "server", "--client", self.client.address, "--address", host.address,
            "--name", server_name or name, "--token-file", str(self.token_file),
            "--temp-dir", str(self.scratch / f"{name}{self.starts[name]}"),
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)  # fmt: skip
