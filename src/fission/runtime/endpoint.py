"""Endpoints: where a job host (or the client) listens, written as one string.

* ``unix:@<name>`` — a Linux abstract Unix-domain socket: same machine, nothing left on disk;
* ``tcp:<host>:<port>`` — TCP, for job hosts on different machines.

This is the only module of the runtime that creates sockets.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct

from fission.core.errors import ProtocolError

__all__ = ["connect", "listen", "peer_name", "tune"]


def tune(sock: socket.socket) -> None:
    """Options every data connection gets: no Nagle delay; large buffers for Unix sockets
    (TCP sizes its own buffers, and setting them would switch that auto-tuning off)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, 1 << 20)


def listen(spec: str, backlog: int = 64) -> tuple[socket.socket, str]:
    """Listen on ``spec`` (``unix:@name`` or ``tcp:host:port``, port 0 = any free port)."""
    kind, _, rest = spec.partition(":")
    if kind == "unix":
        if not rest.startswith("@"):
            raise ValueError(f"only abstract unix endpoints are supported: {spec}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind("\0" + rest[1:])
        address = spec
    elif kind == "tcp":
        host, _, port = rest.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        address = f"tcp:{host}:{sock.getsockname()[1]}"
    else:
        raise ValueError(f"unknown endpoint kind: {spec}")
    sock.listen(backlog)
    os.set_inheritable(sock.fileno(), False)
    return sock, address


def peer_name(sock: socket.socket, address: object) -> str:
    """A readable name of a connected peer: ``host:port``, or ``pid N`` on a Unix socket."""
    if sock.family == socket.AF_UNIX:
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, _gid = struct.unpack("3i", creds)
            return f"pid {pid} (uid {uid})"
        except OSError:
            return "a local process"
    if isinstance(address, tuple):
        return f"{address[0]}:{address[1]}"
    return str(address)


def connect(address: str, timeout: float = 2.0) -> socket.socket:
    """Connect to ``address``; raises OSError if nobody listens there."""
    kind, _, rest = address.partition(":")
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = "\0" + rest[1:]
    elif kind == "tcp":
        host, _, port = rest.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    else:
        raise ProtocolError(f"unknown endpoint kind in {address!r}")
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock
