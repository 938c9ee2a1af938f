"""Hosts emulated with Linux network namespaces, joined by a bridge in a namespace of its own.

Each host is a namespace with one veth interface and an address this module assigns in a
private subnet; the bridge lives in a separate namespace, so the machine's own network is never
touched and no traffic can leave (there is no route out). Faults are real: ``kill`` SIGKILLs
every process in a host's namespace, ``cut`` takes its link down on the bridge side (a network
partition as the others see it). ``down`` removes everything, and is safe to call twice.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fission.core.errors import FissionError

__all__ = ["EmulatedHost", "EmulatedNetwork", "require_root"]


def require_root() -> None:
    if os.geteuid() != 0:
        raise FissionError(
            "emulated hosts need root (they are Linux network namespaces): run this command as "
            "root, e.g. with sudo"
        )
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        raise FissionError("the 'ip' command (iproute2) is needed for emulated hosts")
    if shutil.which("unshare") is None:  # emulated servers get PID namespaces of their own
        raise FissionError("the 'unshare' command (util-linux) is needed for emulated hosts")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise FissionError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@dataclass
class EmulatedHost:
    name: str
    namespace: str
    address: str
    port: str  # the bridge-side end of its veth pair

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def pids(self) -> list[int]:
        result = _ip("netns", "pids", self.namespace, check=False)
        return [int(p) for p in result.stdout.split()]


@dataclass
class EmulatedNetwork:
    """``names[0]`` is usually the client; every host gets 10.<n>.<m>.<index+1>/24."""

    names: Sequence[str]
    subnet: str = "10.213.0"
    prefix: str = field(default_factory=lambda: "fis" + secrets.token_hex(2))
    hosts: dict[str, EmulatedHost] = field(default_factory=dict)

    @property
    def bridge_ns(self) -> str:
        return f"{self.prefix}-br"

    def up(self) -> EmulatedNetwork:
        require_root()
        try:
            _ip("netns", "add", self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            _ip("-n", self.bridge_ns, "link", "set", "lo", "up")
            for index, name in enumerate(self.names):
                namespace = f"{self.prefix}-{name}"
                inner, outer = f"{self.prefix}i{index}", f"{self.prefix}o{index}"
                address = f"{self.subnet}.{index + 1}"
                _ip("netns", "add", namespace)
                _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
                _ip("link", "set", inner, "netns", namespace)
                _ip("link", "set", outer, "netns", self.bridge_ns)
                _ip("-n", self.bridge_ns, "link", "set", outer, "master", "br0")
                _ip("-n", self.bridge_ns, "link", "set", outer, "up")
                _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inner)
                _ip("-n", namespace, "link", "set", inner, "up")
                _ip("-n", namespace, "link", "set", "lo", "up")
                self.hosts[name] = EmulatedHost(name, namespace, address, outer)
        except BaseException:
            self.down()
            raise
        return self

    def start(self, name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside host ``name``."""
        return subprocess.Popen(self.hosts[name].command(argv), **kwargs)

    def kill(self, name: str) -> list[int]:
        """SIGKILL every process of host ``name`` (a server losing power)."""
        pids = self.hosts[name].pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    def cut(self, name: str) -> None:
        """Take host ``name``'s link down: it is partitioned from everyone else."""
        _ip("-n", self.bridge_ns, "link", "set", self.hosts[name].port, "down")

    def heal(self, name: str) -> None:
        _ip("-n", self.bridge_ns, "link", "set", self.hosts[name].port, "up")

    def down(self) -> None:
        """Kill every process in the namespaces and delete them."""
        for host in self.hosts.values():
            self.kill(host.name)
        namespaces = [h.namespace for h in self.hosts.values()] + [self.bridge_ns]
        for namespace in namespaces:
            _ip("netns", "del", namespace, check=False)
        self.hosts.clear()

    def __enter__(self) -> EmulatedNetwork:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
