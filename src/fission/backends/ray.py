"""The Ray backend: job hosts on servers, started by one Ray actor per server (its launcher).

Ray carries what it is good at: membership and failure detection of servers (its health
checks), placing a process on a given server (the custom resource ``fission_server:<name>``
every server advertises; soft affinity was measured to misplace actors) and shipping the
project's code (the driver's ``working_dir``, unpacked on a server when a job first lands
there). The data plane never goes through Ray: the launcher only starts job host processes
(``fission.runtime.remote``), which listen on TCP on the server's address and talk to their
peers and to the client directly.

Ray futures are not selectable, so a watcher thread turns them into JSON reports on a socket
pair, the same reports the local backend's zygote sends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import ray

from fission.client.placement import CLIENT
from fission.runtime.host import HostSpec

__all__ = ["RayBackend", "ServerLauncher"]

#: A job host that has not started after this long (seconds) is given up and placed again.
START_TIMEOUT = 20.0
#: How long one call for ended job hosts waits on a launcher (seconds).
_POLL = 5.0


def _kill(actor: Any) -> None:
    with contextlib.suppress(Exception):
        ray.kill(actor, no_restart=True)


def _die_with_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=8)
class ServerLauncher:
    """Starts every job host of its server and reports their ends (one per server and run).

    One actor per server, not one per job: each Ray actor is a Python process of its own (about
    45 MiB on a Raspberry Pi) whose start costs a second or more of CPU, while starting a job
    host from a running one takes milliseconds. Its job hosts die with it (PDEATHSIG).
    """

    def __init__(self) -> None:
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.ended: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        address = ray.util.get_node_ip_address()
        request["spec"]["listen"] = request["spec"]["listen"].replace("@node", address)
        request["project"] = os.getcwd()  # Ray unpacked the shipped project here
        process = subprocess.Popen(
            [sys.executable, "-m", "fission.runtime.remote"],
            stdin=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
        self.processes[process.pid] = process
        threading.Thread(target=self._reap, args=(process,), daemon=True).start()
        return {"pid": process.pid, "address": address}

    def _reap(self, process: subprocess.Popen[bytes]) -> None:
        status = process.wait()
        self.processes.pop(process.pid, None)
        self.ended.put((process.pid, status))

    def ended_since(self, timeout: float) -> list[tuple[int, int]]:
        """``(pid, status)`` of the job hosts that ended since the last call; waits up to
        ``timeout`` seconds for the first."""
        try:
            ended = [self.ended.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.ended.empty():
            ended.append(self.ended.get())
        return ended

    def signal(self, pid: int, sig: int) -> None:
        if pid in self.processes:  # never a process id the system gave to someone else since
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)


@dataclass(eq=False)
class _Launcher:
    """The client's side of one server's launcher actor."""

    server: str
    actor: Any
    number: int  # launchers come and go with their servers; process ids are per launcher
    hosts: dict[int, int] = field(default_factory=dict)  # pid -> handle
    early: dict[int, int] = field(default_factory=dict)  # pid -> status, ended before known


class RayBackend:
    """Job hosts on the servers of a Ray cluster (the ``run`` and ``emulate`` commands)."""

    def __init__(
        self,
        client_ip: str,
        placement: dict[int, str],
        remote_root: str,
        run_name: str,
        network: str,
        heartbeat: float = 0.5,
        misses: int = 2,
    ) -> None:
        self.client_ip = client_ip
        self.placement = placement  # job id -> server name; the supervisor updates it
        self.remote_root = remote_root
        self.run_name = run_name
        self.network = network
        self.heartbeat = heartbeat
        # how long Ray may keep a server the client found unreachable alive before the client
        # believes Ray again: well past the time Ray's health checks take to declare a death
        self.suspect_grace = max(5.0, 4 * heartbeat * (misses + 1))
        self.sock: socket.socket | None = None
        self._out: socket.socket | None = None
        self._launchers: dict[str, _Launcher] = {}  # server -> its launcher of this run
        self._numbers = itertools.count(1)
        # job host handle -> (its launcher, its pid there). Handles are the backend's own
        # numbers, not process ids: two servers may well give their job hosts the same pid
        self._hosts: dict[int, tuple[_Launcher, int]] = {}
        self._handles = itertools.count(1)
        self._pending: dict[Any, tuple[str, Any]] = {}  # ref -> (kind, context)
        self._lock = threading.RLock()  # launchers are made from the client's thread and this one
        self._stop = threading.Event()
        self._dead_servers: set[str] = set()
        self._deadlines: dict[Any, float] = {}  # start ref -> when to give up on it
        self._names_by_node: dict[str, list[str]] = {}  # a dead node may list no resources
        self._suspects: dict[str, float] = {}  # server -> when the client found it unreachable
        self._seen: set[str] = set()  # every server name seen alive (reported once each)
        self._partial = b""  # an incomplete report line

    # -- the Backend interface ---------------------------------------------------------------
    def start(self) -> None:
        self.sock, self._out = socket.socketpair()
        threading.Thread(target=self._watch, name="ray-watch", daemon=True).start()

    def control_spec(self, token: str) -> str:
        return f"tcp:{self.client_ip}:0"

    def listen_spec(self, token: str, job_id: int, epoch: int) -> str:
        return "tcp:@node:0"  # the actor fills in its server's address

    def _launcher(self, server: str) -> _Launcher:
        """The server's launcher, started now if it has none (its readiness is reported)."""
        with self._lock:
            launcher = self._launchers.get(server)
            if launcher is None:
                actor = ServerLauncher.options(  # type: ignore[attr-defined]
                    resources={f"fission_server:{server}": 0.001}
                ).remote()
                launcher = _Launcher(server, actor, next(self._numbers))
                self._launchers[server] = launcher
                self._pending[actor.__ray_ready__.remote()] = ("ready", launcher)
                self._pending[actor.ended_since.remote(_POLL)] = ("ended", launcher)
            return launcher

    def start_launchers(self, servers: list[str]) -> None:
        """Start each server's launcher now, so that a failover skips Ray's worker start-up
        (a second or more): the replacement job host starts from the running launcher."""
        for server in servers:
            self._launcher(server)

    def _drop_launcher(self, server: str) -> None:
        """Forget a server's launcher and kill it (and so its job hosts) once Ray can."""
        with self._lock:
            launcher = self._launchers.pop(server, None)
        if launcher is not None:
            # ray.kill may wait on a server that is cut off: never in the client's loop
            threading.Thread(target=_kill, args=(launcher.actor,), daemon=True).start()

    def suspect(self, server: str) -> None:
        """The client heard nothing from ``server``'s job hosts: treat it as dead now.

        Ray may never declare it dead (a short cut heals before its health checks give up);
        then it counts as alive again once Ray has kept it alive for ``suspect_grace``. Its
        launcher is killed, with any job host still running behind the cut (they are fenced
        by their epoch anyway).
        """
        with self._lock:
            self._suspects[server] = time.monotonic()
            self._dead_servers.add(server)
        self._drop_launcher(server)

    def spawn(self, spec: HostSpec, workdir: str) -> list[tuple[int, str]]:
        server = self.placement[spec.job_id]
        launcher = self._launcher(server)
        if server == CLIENT:  # LocalJobs work in the client's run folder, as in simulate
            folder = workdir
        else:
            folder = os.path.join(self.remote_root, self.run_name, f"{spec.job_id}-e{spec.epoch}")
        request = {"spec": asdict(spec), "network": self.network, "workdir": folder}
        ref = launcher.actor.start.remote(request)
        with self._lock:
            self._pending[ref] = ("start", (launcher, spec.job_id, spec.epoch))
            self._deadlines[ref] = time.monotonic() + START_TIMEOUT
        return []

    def receive(self) -> list[dict[str, Any]] | None:
        """Every whole report that arrived (a stream: several may come in one read)."""
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except OSError:
            return None
        if not data:
            return None
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [json.loads(line) for line in lines if line]

    def signal_job(self, pid: int, sig: int) -> None:
        entry = self._hosts.get(pid)
        if entry is None:
            return
        launcher, os_pid = entry
        with contextlib.suppress(Exception):  # a lost server: its launcher is gone with it
            launcher.actor.signal.remote(os_pid, int(sig))

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            launchers = list(self._launchers.values())
            self._launchers.clear()
        for launcher in launchers:
            with contextlib.suppress(Exception):
                ray.kill(launcher.actor, no_restart=True)
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # -- the watcher thread ------------------------------------------------------------------
    def _report(self, message: dict[str, Any]) -> None:
        assert self._out is not None
        with contextlib.suppress(OSError):
            self._out.send(json.dumps(message).encode() + b"\n")

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch_once()
            except Exception as exc:  # never die silently: the client relies on these reports
                self._report({"warning": f"watching the cluster: {type(exc).__name__}: {exc}"})
                time.sleep(0.2)

    def _watch_once(self) -> None:
        last_nodes = 0.0
        while not self._stop.is_set():
            with self._lock:
                refs = list(self._pending)
            if refs:
                done, _ = ray.wait(refs, num_returns=1, timeout=0.05)
            else:
                time.sleep(0.05)
                done = []
            for ref in done:
                with self._lock:
                    kind, context = self._pending.pop(ref)
                    self._deadlines.pop(ref, None)
                self._finished(kind, context, ref)
            now = time.monotonic()
            for ref, deadline in list(self._deadlines.items()):
                if now > deadline:  # e.g. placed on a server that died meanwhile
                    with self._lock:
                        kind, context = self._pending.pop(ref)
                        del self._deadlines[ref]
                    launcher, job_id, epoch = context
                    # a launcher that cannot start a job host in that time is stuck: start
                    # afresh (its other job hosts end with it and are restarted)
                    if self._launchers.get(launcher.server) is launcher:
                        self._drop_launcher(launcher.server)
                    self._report(
                        {
                            "error": f"job {job_id} did not start on {launcher.server} within "
                            f"{START_TIMEOUT:.0f} s",
                            "job": job_id,
                            "epoch": epoch,
                        }
                    )
            if time.monotonic() - last_nodes > min(0.25, self.heartbeat / 2):
                last_nodes = time.monotonic()
                self._check_servers()

    def _finished(self, kind: str, context: Any, ref: Any) -> None:
        if kind == "ready":
            with contextlib.suppress(Exception):  # a launcher lost with its server: no report
                ray.get(ref)
                self._report({"launcher_ready": context.server})
        elif kind == "start":
            self._started(ref, *context)
        else:
            self._ended(ref, context)

    def _started(self, ref: Any, launcher: _Launcher, job_id: int, epoch: int) -> None:
        server = launcher.server
        try:
            started = ray.get(ref)
        except Exception as exc:  # the server died while starting the job
            self._report(
                {
                    "error": f"starting job {job_id} on {server} failed: {exc}",
                    "job": job_id,
                    "epoch": epoch,
                    "server": server,
                }
            )
            return
        os_pid = int(started["pid"])
        handle = next(self._handles)
        self._hosts[handle] = (launcher, os_pid)
        launcher.hosts[os_pid] = handle
        self._report(
            {"spawned": job_id, "epoch": epoch, "pid": handle, "os_pid": os_pid, "server": server}
        )
        if os_pid in launcher.early:  # it ended before its start was known here
            self._host_ended(launcher, os_pid, launcher.early.pop(os_pid))

    def _ended(self, ref: Any, launcher: _Launcher) -> None:
        try:
            ended = ray.get(ref)
        except Exception:  # the launcher died (with its server, or killed): so did its hosts
            self._check_servers()  # report the dead server first, so it is not chosen again
            with self._lock:
                if self._launchers.get(launcher.server) is launcher:
                    del self._launchers[launcher.server]
            for os_pid in list(launcher.hosts):
                self._host_ended(launcher, os_pid, -int(signal.SIGKILL))
            return
        for os_pid, status in ended:
            if os_pid in launcher.hosts:
                self._host_ended(launcher, os_pid, int(status))
            else:
                launcher.early[os_pid] = int(status)
        with self._lock:  # ask again while the launcher is in use
            if self._launchers.get(launcher.server) is launcher or launcher.hosts:
                self._pending[launcher.actor.ended_since.remote(_POLL)] = ("ended", launcher)

    def _host_ended(self, launcher: _Launcher, os_pid: int, status: int) -> None:
        handle = launcher.hosts.pop(os_pid)
        self._hosts.pop(handle, None)
        self._report({"exited": handle, "status": status, "server": launcher.server})

    def _check_servers(self) -> None:
        try:
            nodes = ray.nodes()
        except Exception:
            return
        # A server that came back is a new Ray node under the same name, next to its dead
        # predecessor: a name is alive when any of its nodes is.
        alive: dict[str, bool] = {}
        for node in nodes:
            node_id = node.get("NodeID", "")
            names = [
                r.split(":", 1)[1]
                for r in node.get("Resources", {})
                if r.startswith("fission_server:")
            ]
            if names:
                self._names_by_node[node_id] = names
            for name in self._names_by_node.get(node_id, []):
                alive[name] = alive.get(name, False) or bool(node.get("Alive"))
        now = time.monotonic()
        for name, up in alive.items():
            if up and name not in self._seen:
                # the client adds a server it did not have (one a MultiNode matches, joining
                # after the start); it ignores the ones it placed jobs on from the start
                self._seen.add(name)
                self._report({"server_joined": name})
            with self._lock:
                suspected = self._suspects.get(name)
            if not up and name not in self._dead_servers:
                self._dead_servers.add(name)
                with self._lock:  # its launcher died with it
                    self._launchers.pop(name, None)
                self._report({"server_dead": name})
            elif not up and suspected is not None:
                with self._lock:  # Ray confirmed it: it comes back only as a new node
                    self._suspects.pop(name, None)
            elif up and name in self._dead_servers:
                if suspected is not None and now - suspected < self.suspect_grace:
                    continue
                with self._lock:
                    self._suspects.pop(name, None)
                self._dead_servers.discard(name)
                self.start_launchers([name])
                self._report({"server_alive": name})
