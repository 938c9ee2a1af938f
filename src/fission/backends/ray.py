"""The Ray backend: job hosts on servers, each started by a Ray actor pinned to its server.

Ray carries what it is good at: membership and failure detection of servers (its health
checks), placing a process on a given server (the custom resource ``fission_server:<name>``
every server advertises; soft affinity was measured to misplace actors) and shipping the
project's code (the driver's ``working_dir``, unpacked on a server when a job first lands
there). The data plane never goes through Ray: the actor only starts the job host process
(``fission.runtime.remote``), which listens on TCP on the server's address and talks to its
peers and to the client directly.

Ray futures are not selectable, so a watcher thread turns them into JSON reports on a socket
pair, the same reports the local backend's zygote sends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

import ray

from fission.client.placement import CLIENT
from fission.runtime.host import HostSpec

__all__ = ["JobHostActor", "RayBackend"]

#: A job host that has not started after this long (seconds) is given up and placed again.
START_TIMEOUT = 20.0


def _die_with_parent() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=4)
class JobHostActor:
    """Starts one job host process on its server and reports its end."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        address = ray.util.get_node_ip_address()
        request["spec"]["listen"] = request["spec"]["listen"].replace("@node", address)
        request["project"] = os.getcwd()  # Ray unpacked the shipped project here
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fission.runtime.remote"],
            stdin=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode())
        self.process.stdin.close()
        return {"pid": self.process.pid, "address": address}

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()

    def signal(self, sig: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)


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
        # job host handle -> its actor. Handles are the backend's own numbers, not process ids:
        # two servers may well give their job hosts the same pid
        self._actors: dict[int, Any] = {}
        self._handles = itertools.count(1)
        self._pending: dict[Any, tuple[str, Any]] = {}  # ref -> (kind, context)
        self._lock = threading.RLock()  # prepare_spares takes it, and may run in either thread
        self._stop = threading.Event()
        self._dead_servers: set[str] = set()
        self._deadlines: dict[Any, float] = {}  # start ref -> when to give up on it
        self._names_by_node: dict[str, list[str]] = {}  # a dead node may list no resources
        self._spares: dict[str, Any] = {}  # server -> an idle actor waiting there
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

    def _new_actor(self, server: str) -> Any:
        return JobHostActor.options(  # type: ignore[attr-defined]
            resources={f"fission_server:{server}": 0.001}
        ).remote()

    def prepare_spares(self, servers: list[str]) -> None:
        """Start an idle actor on each server, so that a failover skips Ray's worker start-up
        (about a second here): the replacement job host starts in the spare at once."""
        with self._lock:
            for server in servers:
                if server not in self._spares:
                    self._spares[server] = self._new_spare(server)

    def _new_spare(self, server: str) -> Any:
        actor = self._new_actor(server)
        with self._lock:  # its readiness is reported (a server is ready for failover again)
            self._pending[actor.__ray_ready__.remote()] = ("spare", server)
        return actor

    def suspect(self, server: str) -> None:
        """The client heard nothing from ``server``'s job hosts: treat it as dead now.

        Ray may never declare it dead (a short cut heals before its health checks give up);
        then it counts as alive again once Ray has kept it alive for ``suspect_grace``.
        """
        with self._lock:
            self._suspects[server] = time.monotonic()
            self._dead_servers.add(server)
            self._spares.pop(server, None)

    def spawn(self, spec: HostSpec, workdir: str) -> list[tuple[int, str]]:
        server = self.placement[spec.job_id]
        actor = self._spares.pop(server, None)
        if actor is not None:
            self._spares[server] = self._new_spare(server)  # the next failover's spare
        else:
            actor = self._new_actor(server)
        if server == CLIENT:  # LocalJobs work in the client's run folder, as in simulate
            folder = workdir
        else:
            folder = os.path.join(self.remote_root, self.run_name, f"{spec.job_id}-e{spec.epoch}")
        request = {"spec": asdict(spec), "network": self.network, "workdir": folder}
        ref = actor.start.remote(request)
        with self._lock:
            self._pending[ref] = ("start", (actor, spec.job_id, spec.epoch, server))
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
        actor = self._actors.get(pid)
        if actor is None:
            return
        if sig == signal.SIGKILL:
            # ray.kill may wait on a server that is cut off: never in the client's loop
            threading.Thread(target=self._kill_actor, args=(actor, sig), daemon=True).start()
        else:
            with contextlib.suppress(Exception):
                actor.signal.remote(int(sig))

    @staticmethod
    def _kill_actor(actor: Any, sig: int) -> None:
        with contextlib.suppress(Exception):
            actor.signal.remote(int(sig))
            ray.kill(actor, no_restart=True)

    def close(self) -> None:
        self._stop.set()
        for actor in [*self._actors.values(), *self._spares.values()]:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
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
                    actor, job_id, epoch, server = context
                    with contextlib.suppress(Exception):
                        ray.kill(actor, no_restart=True)
                    self._report(
                        {
                            "error": f"job {job_id} did not start on {server} within "
                            f"{START_TIMEOUT:.0f} s",
                            "job": job_id,
                            "epoch": epoch,
                        }
                    )
            if time.monotonic() - last_nodes > min(0.25, self.heartbeat / 2):
                last_nodes = time.monotonic()
                self._check_servers()

    def _finished(self, kind: str, context: Any, ref: Any) -> None:
        if kind == "spare":
            with contextlib.suppress(Exception):  # a spare lost with its server: no report
                ray.get(ref)
                self._report({"spare_ready": context})
            return
        if kind == "start":
            actor, job_id, epoch, server = context
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
            handle = next(self._handles)
            self._actors[handle] = actor
            with self._lock:
                self._pending[actor.wait.remote()] = ("wait", (handle, server))
            self._report(
                {
                    "spawned": job_id,
                    "epoch": epoch,
                    "pid": handle,
                    "os_pid": int(started["pid"]),
                    "server": server,
                }
            )
        else:
            handle, server = context
            try:
                status = int(ray.get(ref))
            except Exception:  # the actor (and with it the job host) died with its server
                status = -int(signal.SIGKILL)
                self._check_servers()  # report the dead server first, so it is not chosen again
            self._actors.pop(handle, None)
            self._report({"exited": handle, "status": status, "server": server})

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
                self._spares.pop(name, None)  # it died with its server
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
                self.prepare_spares([name])
                self._report({"server_alive": name})
