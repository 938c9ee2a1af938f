"""The supervisor: starts a network's job hosts, wires them, watches them, stops them.

It is the only writer of the directory (which job runs where, in which state). It runs in the
client's main thread as one ``selectors`` loop over: the control listener and one control
connection per job host, every job's stdout and stderr, the backend's reports of exited
processes, and a wake-up descriptor for SIGINT/SIGTERM. It never blocks on a single job.

End of a run:

* every sink finished  -> the other jobs get a moment to end on their own, then are stopped; 0;
* a job failed         -> its traceback is shown with its name, everything stops; exit 1;
* a job host vanished  -> reported with its exit status, everything stops; exit 1;
* Ctrl+C or SIGTERM    -> every job stops (teardown runs), within 2 s at most; exit 0.

With a restart policy (``restarts=N``, what ``run`` does and ``simulate --restart`` asks for),
a job that fails or whose process dies is started again instead, up to N times with a growing
pause (DESIGN section 5): its epoch goes up, its consumers are told to accept only the new
epoch (fencing the old instance off), and once the new instance listens its producers are
re-pointed to it; they replay what was not acknowledged and consumers drop what they already
have. After N restarts the job is FAILED and the rest keeps running.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from fission.backends.base import Backend
from fission.backends.local import LocalBackend
from fission.client.output import JobOutput
from fission.client.placement import CLIENT, Placer, Server, placement_order
from fission.client.rundir import JOB_LOG, SUMMARY, note_server, prepare_run_folder
from fission.core.errors import FissionError
from fission.core.jobs import BaseJob
from fission.core.network import Network
from fission.core.nodes import expand_nodes
from fission.runtime import endpoint, handshake
from fission.runtime.control import ControlChannel, decode_message
from fission.runtime.framing import FrameDecoder
from fission.runtime.host import HostSpec

__all__ = ["JobRecord", "Simulation"]

log = logging.getLogger("fission.client")

#: After the last sink finished, how long other jobs may take to end on their own.
FINISH_GRACE = 2.0
#: After asking jobs to stop, how long before they are killed.
STOP_GRACE = 1.0


@dataclass
class JobRecord:
    """The directory entry of one job."""

    job: BaseJob
    epoch: int = 1
    pid: int = 0  # the backend's handle of its job host (see backends/base.py)
    os_pid: int = 0  # the job host's process id on its server
    state: str = "PENDING"
    endpoint: str = ""
    exit_status: int | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    trace: str = ""
    channel: ControlChannel | None = None
    decoder: FrameDecoder = field(default_factory=lambda: FrameDecoder(16 * 1024 * 1024))
    output: JobOutput | None = None
    fds: dict[int, str] = field(default_factory=dict)  # read end -> "out" / "err"
    restarts: int = 0
    restart_at: float = 0.0  # when a scheduled restart is due (monotonic), 0 = none
    server: str = "local"
    hints: dict[int, int] = field(default_factory=dict)  # resume hints for the next start
    counts_as_restart: bool = True  # False when the job only moves off a dead server
    # when its job host last sent anything (monotonic): its heartbeat, for liveness and for
    # finding servers that fell silent
    last_seen: float = 0.0

    @property
    def alive(self) -> bool:
        return self.pid != 0 and self.exit_status is None


class Simulation:
    """Runs a whole network on this machine (the ``simulate`` command)."""

    def __init__(
        self,
        network: Network,
        run_folder: Path,
        secret: str,
        terminal: TextIO | None = None,
        status: Callable[[str], None] | None = None,
        restarts: int | None = None,
        backend: Backend | None = None,
        placer: Placer | None = None,
        fence_after: float = 0.0,
        heartbeat: float = 1.0,
        silence_limit: float = 0.0,
    ) -> None:
        self.network = network
        self.restarts = restarts  # None: a failure stops the run
        self.failed = False
        self.run_folder = run_folder
        self.secret = secret
        self.terminal = terminal if terminal is not None else sys.stdout
        self.status = status or (lambda text: print(text, file=sys.stderr, flush=True))
        self.token = secrets.token_hex(6)
        self.records = {job.id: JobRecord(job) for job in network.jobs}
        # the order jobs are placed in when several are (pinned ones first, see placement);
        # without placement (simulate), job-id order
        self._placement_order = [
            self.records[job.id]
            for job in (placement_order(network.jobs) if placer is not None else network.jobs)
        ]
        self.backend: Backend = backend if backend is not None else LocalBackend(network)
        self.placer = placer  # None: every job runs here (simulate)
        self.fence_after = fence_after
        self._last_heartbeat = 0.0
        # Job hosts report every `heartbeat` s; a server none of whose job hosts was heard for
        # `silence_limit` s (0 = never judged) is unreachable: its jobs move at once instead of
        # waiting for the backend to declare it dead (a cut link takes Ray far longer).
        self.heartbeat = heartbeat
        self.silence_limit = silence_limit
        self._last_loop = 0.0
        self.selector = selectors.DefaultSelector()
        self.listener: socket.socket | None = None
        self.control_address = ""
        self.exit_code = 0
        self._stop_reason = ""
        self._stopping_since = 0.0
        self._finishing_since = 0.0
        self._peers_sent = False
        self._wake_r: socket.socket | None = None
        self._old_handlers: dict[int, Any] = {}
        self.started_at = 0.0
        # called once per turn of the loop (the directory, the live view, the status socket)
        self.watchers: list[Callable[[Simulation], None]] = []

    # == lifecycle =============================================================================
    def run(self) -> int:
        """Run until the network ends or is stopped; returns the exit code."""
        self.started_at = time.monotonic()
        owned = (
            self.network.network_dir is not None
            and self.run_folder == (self.network.network_dir / "simulation").resolve()
        )
        prepare_run_folder(self.network, self.run_folder, owned=owned)
        self._configure_logging()
        # The zygote must be forked before this process opens sockets or starts threads.
        self.backend.start()
        try:
            self._install_signal_wakeup()
            self.listener, self.control_address = endpoint.listen(
                self.backend.control_spec(self.token)
            )
            self.listener.setblocking(False)
            self.selector.register(self.listener, selectors.EVENT_READ, ("listener",))
            assert self.backend.sock is not None
            self.selector.register(self.backend.sock, selectors.EVENT_READ, ("backend",))
            for record in self._placement_order:
                self._place_and_start(record)
            self._loop()
        finally:
            self._cleanup()
            self._write_summary()
        return self.exit_code

    def _write_summary(self) -> None:
        """``summary.json`` in the run folder: how each job ended, with its last statistics
        (rounds, gaps, duplicates dropped, longest silences on each input)."""
        jobs = {
            str(job_id): {
                "name": record.job.name,
                "server": record.server,
                "state": record.state,
                "epoch": record.epoch,
                "restarts": record.restarts,
                "error": record.error,
                "sink": not record.job.outputs,
                "stats": {k: v for k, v in record.stats.items() if k not in ("type", "job")},
            }
            for job_id, record in self.records.items()
        }
        summary = {"schema": 1, "network": self.network.name, "exit_code": self.exit_code}
        with contextlib.suppress(OSError):
            (self.run_folder / SUMMARY).write_text(json.dumps({**summary, "jobs": jobs}, indent=1))

    def _configure_logging(self) -> None:
        settings = self.network.settings
        handler = logging.FileHandler(settings.log_path(self.run_folder))
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        )
        root = logging.getLogger("fission")
        for old in list(root.handlers):
            if getattr(old, "_fission_run", False):
                root.removeHandler(old)
                old.close()
        handler._fission_run = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(settings.log_level())
        log.info(
            "network %s: %d jobs, run folder %s",
            self.network.name,
            len(self.network.jobs),
            self.run_folder,
        )

    def _install_signal_wakeup(self) -> None:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        self._wake_r = wake_r
        self._wake_w = wake_w
        self.selector.register(wake_r, selectors.EVENT_READ, ("signal",))
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            signal.set_wakeup_fd(wake_w.fileno())
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old_handlers[sig] = signal.signal(sig, lambda *_: None)

    def _server_joined(self, name: str) -> None:
        """A server the placement does not know yet is up: if a MultiNode of NODES matches it,
        it takes jobs from now on (the PENDING ones first)."""
        placer = self.placer
        if placer is None or name in placer.servers or self._stopping_since:
            return
        nodes = expand_nodes(self.network.settings.NODES, [name])
        node = next((n for n in nodes if n.host == name), None)
        if node is None:
            log.info("server %s joined, but NODES does not list it: it gets no jobs", name)
            return
        server = Server.from_node(node)
        server.alive = True
        placer.servers[name] = server
        log.info("server %s joined (NODES matches it): it takes jobs from now on", name)
        self.status(f"fission: server {name} joined")
        start_launchers = getattr(self.backend, "start_launchers", None)
        if start_launchers is not None:
            start_launchers([name])  # ready at once for a failover or a PENDING job
        for record in self._placement_order:
            if record.state == "PENDING":
                self._place_and_start(record)

    def _place_and_start(self, record: JobRecord) -> None:
        """Start a job where placement says; with no room anywhere it waits as PENDING."""
        if self.placer is not None and not self.placer.place(record.job):
            record.state = "PENDING"
            self.status(f"fission: {record.job.name} is PENDING: no server has room for it")
            return
        self._start(record)

    def _start(self, record: JobRecord) -> None:
        job = record.job
        assert job.id is not None
        settings = self.network.settings
        workdir = self.run_folder / str(job.id)
        if record.output is None:
            width = max(len(j.name) for j in self.network.jobs)
            record.output = JobOutput(
                job.name,
                workdir / JOB_LOG,
                self.terminal if settings.DEBUG_WINDOW else None,
                width,
            )
        spec = HostSpec(
            job_id=job.id,
            epoch=record.epoch,
            listen=self.backend.listen_spec(self.token, job.id, record.epoch),
            control=self.control_address,
            secret=self.secret,
            input_epochs={
                p.id: self.records[self.network.connections[p.id].producer.id].epoch
                for p in job.inputs
            },
            window_blocks=settings.CREDIT_WINDOW,
            window_bytes=settings.CREDIT_BYTES,
            fence_after=self.fence_after,
            heartbeat=self.heartbeat,
            resume_hints=record.hints,
            batch_scheduling=settings.JOB_SCHEDULING == "batch",
        )
        for fd, stream in self.backend.spawn(spec, str(workdir)):
            os.set_blocking(fd, False)
            record.fds[fd] = stream
            self.selector.register(fd, selectors.EVENT_READ, ("output", job.id, stream))
        record.state = "STARTING"
        log.debug("starting %s (epoch %d)", job.name, record.epoch)

    # == the loop ===============================================================================
    def _loop(self) -> None:
        while True:
            for watch in self.watchers:
                watch(self)
            now = time.monotonic()
            if self.silence_limit and not self._stopping_since:
                self._check_silence(now)
            if self.fence_after and now - self._last_heartbeat > min(1.0, self.fence_after / 3):
                self._last_heartbeat = now
                for record in self.records.values():
                    self._send(record, {"type": "heartbeat"})
            for record in self._placement_order:
                if record.restart_at and now >= record.restart_at and not self._stopping_since:
                    record.restart_at = 0.0
                    self._restart(record)
            if self._stopping_since:
                if not any(r.alive or r.fds for r in self.records.values()):
                    return
                if now - self._stopping_since > STOP_GRACE:
                    self._kill_all(signal.SIGKILL)
                    if now - self._stopping_since > STOP_GRACE + 1.0:
                        return
            elif self._finishing_since and now - self._finishing_since > FINISH_GRACE:
                self.stop("the network finished", code=1 if self.failed else self.exit_code)
            elif not any(r.alive or r.restart_at for r in self.records.values()) and all(
                r.state in ("FINISHED", "STOPPED", "FAILED") for r in self.records.values()
            ):
                self.stop("every job finished", code=1 if self.failed else self.exit_code)
            for key, _mask in self.selector.select(0.1):
                kind = key.data[0]
                if kind == "output":
                    self._on_output(key.fileobj, key.data[1], key.data[2])  # type: ignore[arg-type]
                elif kind == "control":
                    self._on_control(key.data[1], key.fileobj)  # type: ignore[arg-type]
                elif kind == "listener":
                    self._on_connect()
                elif kind == "backend":
                    self._on_backend()
                elif kind == "signal":
                    self._on_signal()

    def _check_silence(self, now: float) -> None:
        """Declare unreachable a server whose every running job host fell silent.

        Guards against blaming servers for the client's own stalls: time the client itself
        was not listening does not count, and nothing is judged unless some job host elsewhere
        was heard within the limit (when everything is silent, the client's own link is the
        likelier culprit, and the backend's health checks decide).
        """
        stalled = self._last_loop and now - self._last_loop > self.heartbeat
        self._last_loop = now
        if stalled:
            for record in self.records.values():
                record.last_seen = max(record.last_seen, now - self.heartbeat)
            return
        limit = self.silence_limit
        watched = [r for r in self.records.values() if r.alive and r.state == "RUNNING"]
        if not any(now - r.last_seen <= limit for r in watched):
            return
        servers: dict[str, bool] = {}
        for record in watched:
            if record.server in ("local", CLIENT):
                continue
            servers[record.server] = servers.get(record.server, False) or (
                now - record.last_seen <= limit
            )
        for name, heard in servers.items():
            if not heard:
                log.warning("no job host on %s was heard for %.1f s", name, limit)
                self._on_report({"server_dead": name, "unreachable": True})
                suspect = getattr(self.backend, "suspect", None)
                if suspect is not None:
                    suspect(name)

    def _on_signal(self) -> None:
        assert self._wake_r is not None
        try:
            data = self._wake_r.recv(64)
        except OSError:
            return
        for signum in data:
            if signum in (signal.SIGINT, signal.SIGTERM):
                name = "Ctrl+C" if signum == signal.SIGINT else "SIGTERM"
                if self._stopping_since:
                    self._kill_all(signal.SIGKILL)
                else:
                    self.stop(f"{name}: stopping every job", code=1 if self.failed else 0)

    def _on_output(self, fd: int, job_id: int, stream: str) -> None:
        record = self.records[job_id]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            assert record.output is not None
            record.output.feed(stream, data)
            return
        self.selector.unregister(fd)
        os.close(fd)
        record.fds.pop(fd, None)

    def _on_connect(self) -> None:
        assert self.listener is not None
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(True)
        sock.settimeout(2.0)

        def decide(hello: dict[str, Any]) -> dict[str, Any]:
            record = self.records.get(hello.get("job"))  # type: ignore[arg-type]
            if hello.get("role") != "host" or record is None:
                raise FissionError(f"unknown job {hello.get('job')!r}")
            if hello.get("epoch") != record.epoch:
                raise FissionError(f"stale epoch {hello.get('epoch')} for {record.job.name}")
            return {}

        try:
            hello, _ = handshake.accept(sock, bytes.fromhex(self.secret), decide)
        except (OSError, FissionError) as exc:
            log.warning("rejected a control connection: %s", exc)
            sock.close()
            return
        record = self.records[hello["job"]]
        sock.settimeout(None)
        record.channel = ControlChannel(sock)
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, ("control", record.job.id))

    def _on_control(self, job_id: int, sock: socket.socket) -> None:
        record = self.records[job_id]
        if record.channel is None or record.channel.sock is not sock:
            return  # already drained and closed earlier in this round of events
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(sock)
            sock.close()
            record.channel = None
            return
        record.last_seen = time.monotonic()
        try:
            messages = [decode_message(f) for f in record.decoder.feed(data)]
        except FissionError as exc:
            log.warning(
                "%s: malformed control message (%s); connection closed", record.job.name, exc
            )
            self.selector.unregister(sock)
            sock.close()
            record.channel = None
            return
        for message in messages:
            self._on_message(record, message)

    def _on_message(self, record: JobRecord, message: dict[str, Any]) -> None:
        kind = message["type"]
        if message.get("epoch") != record.epoch:
            return
        if kind == "ready":
            record.endpoint = str(message["endpoint"])
            record.state = "RUNNING"
            log.info("%s ready at %s", record.job.name, record.endpoint)
            if self._peers_sent:
                self._rewire(record)
            elif all(r.endpoint for r in self.records.values() if r.state != "PENDING"):
                self._peers_sent = True
                self._send_peers()
                log.info(
                    "all %d jobs ready after %.3f s",
                    len(self.records),
                    time.monotonic() - self.started_at,
                )
                if self.placer is not None:
                    self.status(f"fission: all {len(self.records)} jobs running")
                    prepare = getattr(self.backend, "start_launchers", None)
                    if prepare is not None:
                        prepare([s for s in self.placer.servers if self.placer.servers[s].alive])
        elif kind == "stats":
            record.stats = message
        elif kind == "output" and record.output is not None:
            record.output.feed(str(message.get("stream", "out")), str(message["text"]).encode())
        elif kind == "state":
            record.stats = message
            state = str(message["state"])
            record.state = state
            if state == "FAILED":
                self._on_failed(record, message)
            elif state == "FINISHED":
                log.info("%s finished after round %s", record.job.name, message.get("round"))
                if message.get("flagged"):
                    self.status(
                        f"fission: {record.job.name} received {message['flagged']} block(s) "
                        f"flagged as following lost data (a live source was restarted)"
                    )
                sinks = self.network.sinks()
                finished = all(self.records[s.id].state == "FINISHED" for s in sinks)
                if sinks and finished and not self._finishing_since and not self._stopping_since:
                    self._finishing_since = time.monotonic()
                    self.status("fission: every sink finished")

    def _on_failed(self, record: JobRecord, message: dict[str, Any]) -> None:
        record.error = str(message.get("error", ""))
        record.trace = str(message.get("traceback", ""))
        if record.output is not None:
            record.output.note(record.trace or record.error)
        log.error("%s failed: %s\n%s", record.job.name, record.error, record.trace)
        if self._schedule_restart(record):
            return
        print(f"\nfission: job {record.job.name} failed: {record.error}", file=sys.stderr)
        if record.trace:
            for line in record.trace.rstrip("\n").split("\n"):
                print(f"  [{record.job.name}] {line}", file=sys.stderr)
        sys.stderr.flush()
        self._give_up(record)

    def _on_backend(self) -> None:
        reports = self.backend.receive()
        if reports is None:
            self.selector.unregister(self.backend.sock)  # type: ignore[arg-type]
            if not self._stopping_since:
                self.stop("the job launcher died", code=1)
            for record in self.records.values():
                record.exit_status = record.exit_status if record.exit_status is not None else -9
            return
        for report in reports:
            self._on_report(report)

    def _on_report(self, report: dict[str, Any]) -> None:
        if "spawned" in report:
            record = self.records[report["spawned"]]
            if report["epoch"] == record.epoch:
                record.pid = int(report["pid"])
                record.os_pid = int(report.get("os_pid", record.pid))
                if "server" in report:
                    record.server = str(report["server"])
                # for `logs` and `collect`: which server each instance's log lines came from
                note_server(self.run_folder, record.job.id, record.epoch, record.server)
                if record.output is not None:
                    record.output.note(f"epoch {record.epoch} runs on {record.server}")
        elif "server_dead" in report:
            name = str(report["server_dead"])
            how = "is unreachable (no heartbeat)" if report.get("unreachable") else "is dead"
            known = self.placer.servers.get(name) if self.placer is not None else None
            if known is not None and not known.alive:
                # the client's silence check and Ray may both notice the same death
                log.info("server %s %s (already known)", name, how)
            else:
                log.warning("server %s %s", name, how)
                self.status(f"fission: server {name} {how}")
            if self.placer is not None:
                self.placer.set_alive(name, False)
            # Its jobs are gone with it (or cut off and fenced): fail them over now, without
            # waiting for the backend to notice each of them.
            lost = [r for r in self.records.values() if r.server == name and r.alive]
            for record in lost:  # all of them first: each restart must know who else is lost
                self.backend.signal_job(record.pid, signal.SIGKILL)
                record.exit_status = -int(signal.SIGKILL)
                record.error = f"its server {name} " + (
                    "is unreachable" if report.get("unreachable") else "died"
                )
            for record in lost:
                self._on_exit(record)
        elif "server_joined" in report:
            self._server_joined(str(report["server_joined"]))
        elif "launcher_ready" in report:
            log.info("%s is ready to take over a job (launcher up)", report["launcher_ready"])
        elif "server_alive" in report:
            name = str(report["server_alive"])
            log.info("server %s is back", name)
            self.status(f"fission: server {name} is back")
            if self.placer is not None:
                self.placer.set_alive(name, True)
                for record in self._placement_order:
                    if record.state == "PENDING" and not self._stopping_since:
                        self._place_and_start(record)
        elif "error" in report:
            record = self.records.get(report.get("job"))  # type: ignore[arg-type]
            log.warning("%s", report["error"])
            if record is not None and report.get("epoch") == record.epoch:
                record.exit_status = -9
                self._on_exit(record)
        elif "exited" in report:
            for record in self.records.values():
                if record.pid == report["exited"]:
                    record.exit_status = int(report["status"])
                    self._on_exit(record)

    def _drain_control(self, record: JobRecord) -> None:
        """Read what an exited job host still had in flight on its control connection."""
        channel = record.channel
        if channel is None:
            return
        sock = channel.sock
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(sock)
        # A job host that exited closes the connection at once; one on a lost server may never
        # (a cut link): then only what already arrived is read, without waiting.
        sock.settimeout(0.0 if record.error.startswith("its server") else 0.5)
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with contextlib.suppress(FissionError):
                for frame in record.decoder.feed(data):
                    self._on_message(record, decode_message(frame))
        channel.close()
        record.channel = None

    def _on_exit(self, record: JobRecord) -> None:
        self._drain_control(record)
        status = record.exit_status
        log.info("%s exited with status %s", record.job.name, status)
        if record.state in ("FINISHED", "FAILED", "STOPPED", "RESTARTING"):
            return
        if self._stopping_since:
            return
        how = (
            f"killed by signal {-status}"
            if status is not None and status < 0
            else f"exit status {status}"
        )
        if not record.error.startswith("its server"):
            record.error = f"the job's process ended unexpectedly ({how})"
        if self._schedule_restart(record):
            return
        record.state = "FAILED"
        print(f"\nfission: job {record.job.name} died: {record.error}", file=sys.stderr)
        self._give_up(record)

    # == failover ==============================================================================
    def _schedule_restart(self, record: JobRecord) -> bool:
        """Plan the next instance of a failed job if the policy allows; False if not.

        A job whose server died did nothing wrong: it moves at once and it does not use up
        its JOB_RESTARTS. A job that failed by itself restarts at once the first time, then
        with a growing pause (it may keep failing).
        """
        if self.restarts is None or self._stopping_since:
            return False
        moved = record.error.startswith("its server")
        if not moved and record.restarts >= self.restarts:
            return False
        # decided now, while the survivors' progress reports still say how far they got
        record.hints = self._resume_hints(record)
        record.state = "RESTARTING"
        record.counts_as_restart = not moved
        pause = 0.0 if moved or record.restarts == 0 else min(0.5 * 2 ** (record.restarts - 1), 4.0)
        record.restart_at = time.monotonic() + pause
        if moved:
            self.status(f"fission: {record.job.name}: {record.error}; moving it")
        else:
            self.status(
                f"fission: {record.job.name}: {record.error}; restart {record.restarts + 1} of "
                f"{self.restarts}" + (f" in {pause:.1f} s" if pause else "")
            )
        return True

    def _give_up(self, record: JobRecord) -> None:
        record.state = "FAILED"
        if self.restarts is None:
            self.stop(f"{record.job.name} failed", code=1)
            return
        self.failed = True
        self.status(
            f"fission: {record.job.name} is FAILED after {record.restarts} restart(s); the rest "
            f"keeps running"
        )

    def _restart(self, record: JobRecord) -> None:
        """Start a new instance (epoch + 1); fence the old one off at its consumers first."""
        if record.alive:  # it failed but its process still runs: make sure it is gone
            self.backend.signal_job(record.pid, signal.SIGKILL)
        if record.channel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(record.channel.sock)
            record.channel.close()
            record.channel = None
        record.epoch += 1
        record.restarts += 1 if record.counts_as_restart else 0
        record.error = ""
        record.endpoint = ""
        record.pid = record.os_pid = 0
        record.exit_status = None
        record.decoder = FrameDecoder(16 * 1024 * 1024)
        log.info("restarting %s as epoch %d", record.job.name, record.epoch)
        for pipe in record.job.outputs:
            consumer = self.records[self.network.connections[pipe.id].consumer.id]
            self._send(
                consumer, {"type": "peers", "outputs": {}, "inputs": {str(pipe.id): record.epoch}}
            )
        self._place_and_start(record)

    def _resume_hints(self, record: JobRecord) -> dict[int, int]:
        """For a restarted job: per output, the sqn to go on from if its consumer is new too.

        The consumer was lost with its state; the client still knows from the last progress
        reports how far the jobs after it got (stale reports only make the hint earlier, and
        whatever is sent twice is dropped by sqn).
        """
        hints: dict[int, int] = {}
        for pipe in record.job.outputs:
            # used only if the consumer turns out to be new (a living one answers for itself)
            consumer = self.records[self.network.connections[pipe.id].consumer.id]
            done = self._rounds_done(consumer)
            if done:
                hints[pipe.id] = done * pipe.block_count + 1
        return hints

    def _rounds_done(self, record: JobRecord, depth: int = 0) -> int:
        """Rounds of ``record`` that its consumers (or, for a sink, it) already hold."""
        if not record.job.outputs or depth > len(self.records):
            return int(record.stats.get("round", 0))
        held = []
        for pipe in record.job.outputs:
            consumer = self.records[self.network.connections[pipe.id].consumer.id]
            if consumer.alive and consumer.state == "RUNNING":
                # the sqns of this pipe are our rounds: what the consumer has received
                next_sqn = consumer.stats.get("inputs", {}).get(str(pipe.id), {}).get("next", 1)
                held.append(max(0, int(next_sqn) - 1))
            else:  # lost too: what the jobs after it hold, in its rounds, in ours
                held.append(self._rounds_done(consumer, depth + 1) * pipe.block_count)
        return min(held) if held else 0

    def _rewire(self, record: JobRecord) -> None:
        """A (re)started instance listens: give it its peers, point its producers to it."""
        self._send(record, self._peers_of(record))
        for pipe in record.job.inputs:
            producer = self.records[self.network.connections[pipe.id].producer.id]
            self._send(
                producer,
                {
                    "type": "peers",
                    "inputs": {},
                    "outputs": {str(pipe.id): [record.endpoint, record.epoch]},
                },
            )

    def _send(self, record: JobRecord, message: dict[str, Any]) -> None:
        if record.channel is not None:
            record.channel.send(message)

    # == wiring ================================================================================
    def _send_peers(self) -> None:
        for record in self.records.values():
            self._send(record, self._peers_of(record))

    def _peers_of(self, record: JobRecord) -> dict[str, Any]:
        """Where a job's outputs go (endpoint, epoch) and which producer epochs it accepts."""
        outputs = {}
        for pipe in record.job.outputs:
            consumer = self.records[self.network.connections[pipe.id].consumer.id]
            if consumer.endpoint:  # a consumer being restarted is announced when it listens
                outputs[str(pipe.id)] = [consumer.endpoint, consumer.epoch]
        inputs = {
            str(pipe.id): self.records[self.network.connections[pipe.id].producer.id].epoch
            for pipe in record.job.inputs
        }
        return {"type": "peers", "outputs": outputs, "inputs": inputs}

    # == stopping ==============================================================================
    def stop(self, reason: str, code: int) -> None:
        if self._stopping_since:
            return
        self._stopping_since = time.monotonic()
        self._stop_reason = reason
        self.exit_code = code
        log.info("stopping: %s", reason)
        if reason and not reason.startswith("every job finished"):
            self.status(f"fission: {reason}")
        for record in self.records.values():
            if record.alive:
                self.backend.signal_job(record.pid, signal.SIGTERM)

    def _kill_all(self, sig: int) -> None:
        for record in self.records.values():
            if record.alive:
                self.backend.signal_job(record.pid, sig)

    def _cleanup(self) -> None:
        self._kill_all(signal.SIGKILL)
        for record in self.records.values():
            for fd in list(record.fds):
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self.selector.unregister(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)
            record.fds.clear()
            if record.channel is not None:
                record.channel.close()
            if record.output is not None:
                record.output.close()
        self.backend.close()
        if self.listener is not None:
            self.listener.close()
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self.selector.close()
        for handler in list(logging.getLogger("fission").handlers):
            if getattr(handler, "_fission_run", False):
                logging.getLogger("fission").removeHandler(handler)
                handler.close()
