"""What the supervisor needs from a backend: start job hosts somewhere, report their exits.

A backend is started once, then:

* ``control_spec(token)``: where the client's control listener must listen so hosts reach it;
* ``spawn(spec, workdir)``: start a job host (asynchronously); returns the descriptors of its
  output streams the client should read (``[(fd, "out"), (fd, "err")]``), or none when the
  host sends its output over its control connection;
* ``sock`` / ``receive()``: a selectable socket and the reports that arrived on it:
  ``{"spawned": job, "epoch": e, "pid": pid}``, ``{"exited": pid, "status": code}``,
  ``{"server_dead": name}`` or ``{"error": text}``;
* ``signal_job(pid, sig)`` and ``close()``.

``pid`` identifies one job host within the run: the process id for the local backend; the Ray
backend numbers its job hosts itself (process ids repeat from one server to the next) and gives
the process id on the server as ``os_pid``.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol

from fission.runtime.host import HostSpec

__all__ = ["Backend"]


class Backend(Protocol):
    sock: socket.socket | None

    def start(self) -> None: ...

    def control_spec(self, token: str) -> str: ...

    def listen_spec(self, token: str, job_id: int, epoch: int) -> str: ...

    def spawn(self, spec: HostSpec, workdir: str) -> list[tuple[int, str]]: ...

    def receive(self) -> list[dict[str, Any]] | None: ...

    def signal_job(self, pid: int, sig: int) -> None: ...

    def close(self) -> None: ...
