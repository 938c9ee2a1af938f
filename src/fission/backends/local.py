"""The local backend: job hosts are child processes on this machine.

A *zygote* process is forked from the client right after the network was loaded and before the
client starts anything else. It already holds the imported job classes, so starting a job host
is one more ``fork`` (milliseconds, no interpreter start-up, no re-import) and the job object
needs no pickling. Each job host gets its own session (Ctrl+C on the terminal reaches only the
client, which then stops the jobs in order) and dies with the zygote, which dies with the client.

Zygote protocol (a SOCK_SEQPACKET pair, one JSON message per packet):

    client -> zygote  {"spawn": job_id, "spec": {...}, "workdir": str} + fds [stdout, stderr]
    zygote -> client  {"spawned": job_id, "epoch": e, "pid": pid}
    zygote -> client  {"exited": pid, "status": code}   (negative: killed by that signal)
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import socket
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fission.core.dependencies import copy_folders, dependencies_of
from fission.core.network import Network
from fission.runtime.host import HostSpec, HostStopped, JobHost

__all__ = ["LocalBackend"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


class LocalBackend:
    """Starts job hosts as processes of this machine, through a zygote."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.sock: socket.socket | None = None
        self.zygote_pid = 0

    # -- client side ------------------------------------------------------------------------
    def start(self) -> None:
        """Fork the zygote. Call before the client creates threads or listening sockets."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        client_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # zygote
            parent.close()
            code = 1
            try:
                _die_with_parent(signal.SIGTERM)
                if os.getppid() != client_pid:
                    os._exit(1)
                code = _Zygote(self.network, child).serve()
            finally:
                os._exit(code)
        child.close()
        self.sock = parent
        self.zygote_pid = pid

    def control_spec(self, token: str) -> str:
        return f"unix:@fission-{token}-client"

    def listen_spec(self, token: str, job_id: int, epoch: int) -> str:
        return f"unix:@fission-{token}-job{job_id}-e{epoch}"

    def spawn(self, spec: HostSpec, workdir: str) -> list[tuple[int, str]]:
        """Start a job host; returns the read ends of its stdout and stderr pipes."""
        assert self.sock is not None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        message = {"spawn": spec.job_id, "spec": asdict(spec), "workdir": workdir}
        socket.send_fds(self.sock, [json.dumps(message).encode()], [out_w, err_w])
        os.close(out_w)
        os.close(err_w)
        return [(out_r, "out"), (err_r, "err")]

    def receive(self) -> list[dict[str, Any]] | None:
        """The next report from the zygote (one per packet), or None if it is gone."""
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except OSError:
            return None
        return [json.loads(data)] if data else None

    @staticmethod
    def signal_job(pid: int, sig: int) -> None:
        """Signal a job host and everything it started (its process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.zygote_pid:
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                os.kill(self.zygote_pid, signal.SIGTERM)
                os.waitpid(self.zygote_pid, 0)
            self.zygote_pid = 0


class _Zygote:
    """Runs in the forked zygote: forks job hosts on request, reports their exits."""

    def __init__(self, network: Network, sock: socket.socket) -> None:
        self.network = network
        self.sock = sock
        self.children: set[int] = set()

    def serve(self) -> int:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        stopping = False

        def on_term(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, on_term)
        selector = selectors.DefaultSelector()
        selector.register(self.sock, selectors.EVENT_READ, "request")
        selector.register(wake_r, selectors.EVENT_READ, "signal")
        while not stopping:
            for key, _ in selector.select(1.0):
                if key.data == "signal":
                    with contextlib.suppress(OSError):
                        wake_r.recv(4096)
                    self._reap()
                else:
                    try:
                        data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 2)
                    except OSError:
                        data, fds = b"", []
                    if not data:
                        stopping = True
                        break
                    self._spawn(json.loads(data), fds)
            self._reap()
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        return 0

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                self.sock.send(json.dumps({"exited": pid, "status": code}).encode())

    def _spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        spec = HostSpec(**request["spec"])
        spec.input_epochs = {int(k): v for k, v in spec.input_epochs.items()}
        spec.resume_hints = {int(k): v for k, v in spec.resume_hints.items()}
        job = self.network.job(spec.job_id)
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                project = self.network.network_dir.parent if self.network.network_dir else None
                code = _host_child(
                    job, spec, request["workdir"], fds, zygote_pid, self.sock, project
                )
            except HostStopped:
                code = 0
            except BaseException:
                with contextlib.suppress(Exception):
                    import traceback

                    traceback.print_exc()
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        for fd in fds:
            os.close(fd)
        self.children.add(pid)
        self.sock.send(
            json.dumps({"spawned": spec.job_id, "epoch": spec.epoch, "pid": pid}).encode()
        )


def _host_child(
    job: Any,
    spec: HostSpec,
    workdir: str,
    fds: list[int],
    zygote_pid: int,
    zygote_sock: socket.socket,
    project_dir: Path | None = None,
) -> int:
    os.setsid()
    _die_with_parent(signal.SIGTERM)
    if os.getppid() != zygote_pid:
        return 1
    zygote_sock.close()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    _close_inherited_fds()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if project_dir is not None:
        copy_folders(dependencies_of(job).folders, project_dir, Path(workdir))
    os.chdir(workdir)
    return JobHost(job, spec).main()


def _close_inherited_fds() -> None:
    """Close every descriptor above stderr: a job host owns only its own sockets."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2:
                with contextlib.suppress(OSError):
                    os.close(fd)
