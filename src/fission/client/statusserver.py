"""The status socket: a running client serves its directory to ``manage.py <network> status``.

A Unix-domain socket in the run folder, ``status.sock``, readable by the same user only (no
network port, so nothing new to authenticate). A reader connects and receives the latest
directory snapshot as one JSON document, then end-of-file; it sends nothing. When the run
folder's path is too long for a Unix socket address (107 bytes), an abstract socket named after
the run folder stands in for it; there, the peer's user id is checked instead of file modes.

A small thread answers the readers, so a slow reader never holds up the supervisor's loop. When
a reader connects, the thread raises :attr:`StatusServer.wanted` and waits (at most
:data:`FRESH_WITHIN` seconds) until the loop, which looks at the flag on every turn (at least
every 0.1 s), publishes a fresh document (:meth:`StatusServer.publish`); then it sends that. So
nobody reading costs nothing, and what a reader gets is as fresh as the job hosts' reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

from fission.core.errors import FissionError

__all__ = [
    "FRESH_WITHIN",
    "SOCKET_NAME",
    "NotRunning",
    "StatusServer",
    "read_status",
    "status_address",
]

SOCKET_NAME = "status.sock"
#: How long a reader's thread waits for a fresh document before it sends the last one.
FRESH_WITHIN = 0.5
#: Longest filesystem path a Unix socket address can hold (sun_path is 108 bytes with the NUL).
_MAX_PATH = 107


class NotRunning(FissionError):
    """Nothing answers on a run folder's status socket."""


def status_address(run_folder: Path) -> str:
    """Where the client of ``run_folder`` serves its directory (a path, or ``\\0name``)."""
    path = str(run_folder.resolve() / SOCKET_NAME)
    if len(path.encode()) <= _MAX_PATH:
        return path
    digest = hashlib.sha256(str(run_folder.resolve()).encode()).hexdigest()[:24]
    return f"\0fission-status-{digest}"


class StatusServer:
    """Serves the latest published directory document on the run folder's status socket."""

    def __init__(self, run_folder: Path) -> None:
        self.address = status_address(run_folder)
        self._document = b"{}"
        self._sock: socket.socket | None = None
        self._closed = threading.Event()
        #: set while a reader waits for a fresh document
        self.wanted = threading.Event()
        self._fresh = threading.Event()

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if not self.address.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)  # left behind by a client that was killed
        sock.bind(self.address)
        if not self.address.startswith("\0"):
            os.chmod(self.address, 0o600)  # this user only (connecting needs write permission)
        sock.listen(16)
        os.set_inheritable(sock.fileno(), False)
        self._sock = sock
        threading.Thread(target=self._serve, name="status", daemon=True).start()

    def publish(self, document: dict[str, Any]) -> None:
        """Make ``document`` what readers get from now on (one reference swap: thread-safe)."""
        self._document = json.dumps(document, separators=(",", ":")).encode()
        self.wanted.clear()
        self._fresh.set()

    def close(self) -> None:
        self._closed.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if not self.address.startswith("\0"):
            with contextlib.suppress(OSError):
                os.unlink(self.address)

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._closed.is_set():
            try:
                reader, _ = sock.accept()
            except OSError:
                return
            with reader:
                if not _same_user(reader):
                    continue
                reader.settimeout(1.0)
                self._fresh.clear()
                self.wanted.set()
                self._fresh.wait(FRESH_WITHIN)
                with contextlib.suppress(OSError):
                    reader.sendall(self._document)


def _same_user(sock: socket.socket) -> bool:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (os.getuid(), 0)


def read_status(run_folder: Path, timeout: float = 2.0) -> dict[str, Any]:
    """The directory document served for ``run_folder``.

    Raises:
        NotRunning: no client serves that run folder (not started, ended, or killed).
    """
    address = status_address(run_folder)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        chunks = []
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
        raise NotRunning(f"nothing serves the run folder {run_folder}") from None
    except TimeoutError:
        raise NotRunning(f"the client of {run_folder} does not answer") from None
    finally:
        sock.close()
    try:
        document = json.loads(b"".join(chunks))
    except ValueError:
        raise NotRunning(f"the client of {run_folder} sent no directory") from None
    if not isinstance(document, dict) or "schema" not in document:
        raise NotRunning(f"the client of {run_folder} has not published its directory yet")
    return document
