"""The job host: the one OS process that runs one job.

Inputs -> aligner -> the job's ``run`` -> outputs, in a single thread that also does all of the
job's socket I/O (one ``selectors`` loop): handing blocks between threads costs a third of the
throughput under the GIL. Three small helper threads only set things up or watch:

* the *acceptor* authenticates producers connecting to this job's inputs;
* one *connector* per output authenticates to the consumer the client named;
* the *control* thread talks to the client (peers, stop, heartbeats, progress).

They hand finished connections to the I/O thread through a queue and a wake-up socket.

Rounds (DESIGN section 4): round ``r`` takes, from every input ``i``, the blocks with sequence
numbers ``(r-1)*BLOCK_COUNT_i + 1 .. r*BLOCK_COUNT_i``; its outputs carry sqn ``r``. Sources
number their blocks 1, 2, 3, ... Nothing is dropped to catch up.

Acknowledgements (DESIGN section 5): a sink acknowledges a round once ``run`` returned; any other
job acknowledges input round ``r`` only when every output acknowledged sqn ``r``. So every block
is held by some replay buffer until its effect has reached the sinks.

Optional (ASYNC) inputs take no part in rounds: each round takes the oldest queued value, else
the last one or the pipe's default; their blocks are acknowledged once taken or dropped. Lost
sqns (gaps) are filled per the pipe's ``GAP_POLICY``. Heads: the flags byte of each input block
is the block's head; outputs carry the OR of the round's corrupted and user bits, or, for a
``HEAD`` job, what it set in ``self.head`` / ``self.out_heads``. Jobs with optional inputs or
``HEAD`` take the general path; the plain path's fast loops only hand flagged blocks over to it.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fission.core.errors import FissionError, ProtocolError
from fission.core.head import Head
from fission.core.jobs import BaseJob, ExecutableJob
from fission.core.pipes import BasePipe
from fission.runtime import endpoint, handshake
from fission.runtime.allocator import keep_freed_buffers
from fission.runtime.control import ControlChannel
from fission.runtime.framing import (
    FLAG_CORRUPTED,
    FLAG_FINISHED,
    HEADER,
    HEADER_SIZE,
    Kind,
    run_length,
)
from fission.runtime.links import InputLink, OutputLink, Spliced
from fission.runtime.scheduling import schedule_as_batch

__all__ = ["HostSpec", "HostStopped", "JobHost"]

#: What the selector returns for a program's output pipe (see JobHost.watch_program).
_PROGRAM = object()

#: ExecutableBridge.run_batch: (input, last round done, most rounds, most bytes, output pipe)
#: -> (frames to send, or a Spliced to send by OutputLink.send_spliced; rounds done)
RoundBatch = Callable[[InputLink, int, int, int, int], tuple[list[Any] | Spliced, int]]

_DATA = int(Kind.DATA)
_SKIP = int(Kind.SKIP)
#: Blocks per output batch before it is written out.
BATCH_BLOCKS = 256
#: A batch older than this (seconds) is written out even if it is not full.
FLUSH_AFTER = 0.001
#: A user call slower than this marks the job as slow: its blocks leave one by one.
SLOW_CALL = 0.0001
#: While busy, inputs are acknowledged at least this often (seconds), even between steps.
ACK_AFTER = 0.002
#: Rounds processed before looking at the sockets again.
ROUNDS_PER_TURN = 2048
#: Seconds between progress reports to the client (the directory is at most this much late).
HEARTBEAT_EVERY = 0.5
#: While busy, the I/O thread pauses YIELD_PAUSE seconds every YIELD_EVERY seconds (GIL hand-over).
YIELD_EVERY = 0.02
YIELD_PAUSE = 0.0002
#: A batch stops growing at this many bytes (the byte credit is checked per batch).
BATCH_BYTES = 1024 * 1024
#: Head bits an output inherits from the round's inputs (corrupted and the user bits).
_PASSED_ON = FLAG_CORRUPTED | 0x1F
#: Marks "no value" where None is a legitimate value.
_NOTHING = object()


def _ack_step(pipes: list[Any], window_blocks: int, window_bytes: int) -> int:
    """Rounds acknowledged together while busy: an eighth of the producers' credit window,
    in blocks and, for fixed-size blocks, in bytes (with 64 KiB blocks a step of 512 rounds
    would hold the whole 16 MiB window twice over)."""
    step = window_blocks // 8
    for pipe in pipes:
        blocks = max(1, pipe.block_count)
        step = min(step, window_blocks // 8 // blocks)
        size = pipe.block_size
        if isinstance(size, int) and size > 0:
            step = min(step, window_bytes // 8 // (size * blocks))
    return max(1, step)


class _Optional:
    """The consumer's state of one optional input: its codec and the last value taken."""

    __slots__ = ("buffer", "default", "link", "newest", "position", "store", "unpack", "value")

    def __init__(self, position: int, link: InputLink, pipe: BasePipe) -> None:
        self.position = position
        self.link = link
        self.unpack = pipe.decoder()
        self.default = getattr(pipe, "OPTIONAL_DEFAULT", None)
        self.store = bool(getattr(pipe, "OPTIONAL_STORE", True))
        self.buffer = int(getattr(pipe, "OPTIONAL_BUFFER_SIZE", 0))
        self.newest = getattr(pipe, "OPTIONAL_DELETE_MODE", "oldest") == "newest"
        self.value: Any = _NOTHING

    def trim(self) -> None:
        """Keep at most ``buffer`` values queued (dropping per the delete mode), no SKIPs."""
        queue_ = self.link.queue
        if not queue_:
            return
        if any(item[1] != _DATA for item in queue_):
            kept = [item for item in queue_ if item[1] == _DATA]
            queue_.clear()
            queue_.extend(kept)
        if self.buffer:
            while len(queue_) > self.buffer:
                if self.newest:
                    queue_.pop()
                else:
                    queue_.popleft()
        self._acknowledge()

    def take(self) -> tuple[Any, int]:
        """The value for this round and its head flags."""
        queue_ = self.link.queue
        if queue_:
            self.trim()
        if queue_:
            _sqn, _kind, flags, payload = queue_.popleft()
            self._acknowledge()
            try:
                value = self.unpack(payload)
            except Exception as exc:
                raise JobFailed(
                    f"decoding a block of optional pipe {self.link.pipe_id} failed: "
                    f"{_describe(exc)}",
                    _user_trace(exc),
                ) from None
            if self.store:
                self.value = value
            return value, flags
        if self.value is not _NOTHING:
            return self.value, 0
        return self.default, 0

    def _acknowledge(self) -> None:
        # everything before the oldest block still queued is taken or dropped
        link = self.link
        done = (link.queue[0][0] - 1) if link.queue else link.next_sqn - 1
        if done > link.ack_sent:
            link.send_ack(done)


@dataclass
class HostSpec:
    """Everything a job host needs besides the job object itself."""

    job_id: int
    epoch: int
    listen: str
    control: str
    secret: str
    input_epochs: dict[int, int] = field(default_factory=dict)
    window_blocks: int = 4096
    window_bytes: int = 16 * 1024 * 1024
    fence_after: float = 0.0  # seconds without the client before stopping; 0 = never
    # seconds between progress reports; they double as heartbeats the client watches
    heartbeat: float = HEARTBEAT_EVERY
    # output pipe -> the sqn a restarted source should go on from when its consumer was lost
    # too (a fresh consumer knows nothing; the client knows how far the survivors got)
    resume_hints: dict[int, int] = field(default_factory=dict)
    batch_scheduling: bool = True  # JOB_SCHEDULING = "batch" (see runtime/scheduling.py)


class HostStopped(BaseException):
    """Raised in the I/O thread to stop the job (SIGTERM or a stop message)."""


class JobFailed(Exception):
    """The job's own code raised or broke the job API; carries the formatted traceback."""

    def __init__(self, message: str, trace: str) -> None:
        super().__init__(message)
        self.trace = trace


class ApiMisuse(TypeError):
    """The job's return value does not fit its outputs (reported without a traceback)."""


class _Outputs:
    """Maps a ``run`` result onto the output links, encoding with each pipe's codec."""

    def __init__(self, job: BaseJob, links: list[OutputLink]) -> None:
        self.job = job
        self.links = links
        self.packers = [pipe.encoder() for pipe in job.outputs]
        self.count = len(links)

    def emit(self, sqn: int, result: Any, flags: int) -> int:
        """Queue round ``sqn``'s frames; returns the largest payload size queued on one link."""
        links = self.links
        if result is None:
            for link in links:
                link.add(_SKIP, sqn, b"", flags)
            return 0
        largest = 0
        if type(result) is tuple:
            if len(result) != self.count:
                hint = (
                    "to send a tuple as one value, wrap it: return (value,)"
                    if self.count == 1
                    else "a tuple maps its elements to the outputs in order; to send one tuple "
                    "to every output, return (value, value, ...)"
                )
                raise ApiMisuse(
                    f"{self.job.name}.run returned a tuple of {len(result)} values but the job "
                    f"has {self.count} output(s); {hint}"
                )
            for link, pack, value in zip(links, self.packers, result, strict=True):
                if value is None:
                    link.add(_SKIP, sqn, b"", flags)
                else:
                    payload = pack(value)
                    largest = max(largest, len(payload))
                    link.add(_DATA, sqn, payload, flags)
            return largest
        for link, pack in zip(links, self.packers, strict=True):
            payload = pack(result)
            largest = max(largest, len(payload))
            link.add(_DATA, sqn, payload, flags)
        return largest

    def emit_each(self, sqn: int, result: Any, flags: list[int]) -> int:
        """As :meth:`emit`, with one flags byte per output (a HEAD job's heads)."""
        if result is not None and type(result) is not tuple:
            result = (result,) * self.count
        elif type(result) is tuple and len(result) != self.count:
            return self.emit(sqn, result, 0)  # raises the usual ApiMisuse
        largest = 0
        for index, (link, pack) in enumerate(zip(self.links, self.packers, strict=True)):
            value = None if result is None else result[index]
            if value is None:
                link.add(_SKIP, sqn, b"", flags[index])
            else:
                payload = pack(value)
                largest = max(largest, len(payload))
                link.add(_DATA, sqn, payload, flags[index])
        return largest


class JobHost:
    """Runs one job until its stream ends, it fails, or it is told to stop."""

    def __init__(
        self, job: BaseJob, spec: HostSpec, relay: list[tuple[int, str]] | None = None
    ) -> None:
        self.job = job
        self.spec = spec
        if isinstance(job, ExecutableJob):
            from fission.runtime.executable import attach  # it builds on this module

            attach(job, self)
        # On a server the job's stdout and stderr are pipes whose lines go to the client over
        # the control connection (there is no terminal to share there).
        self.relay = relay or []
        self._relays: list[threading.Thread] = []
        self.secret = bytes.fromhex(spec.secret)
        self.inputs = [InputLink(p.id, p.block_count) for p in job.inputs]
        # Optional (ASYNC) inputs take no part in rounds; the others are aligned by sqn.
        self._optional = [
            _Optional(position, link, pipe)
            for position, (link, pipe) in enumerate(zip(self.inputs, job.inputs, strict=True))
            if pipe.ASYNC
        ]
        for state in self._optional:
            state.link.optional = True
        self._sync_inputs = [link for link in self.inputs if not link.optional]
        self._sync_pipes = [p for p in job.inputs if not p.ASYNC]
        self._heads = bool(job.HEAD)
        # The fast loops handle jobs without optional inputs and heads (nearly all of them).
        self._plain = not self._optional and not self._heads
        self._round_flags = 0
        self.outputs = [
            OutputLink(p.id, spec.window_blocks, spec.window_bytes) for p in job.outputs
        ]
        for link, pipe in zip(self.outputs, job.outputs, strict=True):
            size = pipe.block_size
            # fixed-size blocks travel in RUN frames (not header-sized ones: run_frames tells
            # headers from payloads by their sizes)
            if isinstance(size, int) and run_length(size) > 1 and size != HEADER_SIZE:
                link.run_block = size
        self._input_by_pipe = {link.pipe_id: link for link in self.inputs}
        self._output_by_pipe = {link.pipe_id: link for link in self.outputs}
        self._unpackers = [p.decoder() for p in job.inputs if not p.ASYNC]
        self._emitter = _Outputs(job, self.outputs)
        # deque: append/popleft are atomic, and an empty check costs nothing on the hot loop
        self._handoff: deque[tuple[Any, ...]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._registered: dict[int, tuple[socket.socket, int]] = {}  # id(link) -> (sock, events)
        self._targets: dict[int, tuple[str, int]] = {}  # output pipe -> (endpoint, epoch)
        # per output: "a connection is wanted" and "the consumer moved" (wakes a back-off)
        self._target_events = {link.pipe_id: threading.Event() for link in self.outputs}
        self._retarget_events = {link.pipe_id: threading.Event() for link in self.outputs}
        self._stopping = threading.Event()
        self.control: ControlChannel | None = None
        self.listener: socket.socket | None = None
        self.address = ""
        # progress
        self.round = 0  # last round processed (sources: last sqn produced)
        self._acked_round = 0
        self._started_round = False
        self._ending = False
        self._torn_down = False
        self._setup_done = False
        self._in_user_code = False
        self._stop_raised = False
        self._stop_requested = False
        self._flush_due = False
        self._armed = False
        self._use_alarm = threading.current_thread() is threading.main_thread()
        self._fast: tuple[Any, ...] | None = None
        #: Set by a job that can do several rounds in one call (an executable fed ahead): given
        #: the input link, the last round done, at most how many rounds and output bytes to do
        #: and the output's pipe, it returns the rounds' output frames (pieces to send in
        #: order) and how many rounds it did (0 to leave the round to run()).
        self.round_batch: RoundBatch | None = None
        self._program_fd: int | None = None  # see watch_program
        self._program_watched = False
        self._resume_points: dict[int, int] = {}  # output pipe -> the consumer's next sqn
        self._resumed = spec.epoch == 1  # a restarted source first learns where to go on
        self._gap_pending = False
        self.flagged_blocks = 0  # blocks received with FLAG_CORRUPTED (after a source outage)
        self._slow = False
        self._quick_calls = 0
        self._ack_step = _ack_step(self._sync_pipes, spec.window_blocks, spec.window_bytes)
        self._acked_at = 0.0
        self._last_pause = time.monotonic()
        self._last_contact = time.monotonic()
        self.state = "STARTING"

    # == public entry point ==================================================================
    def main(self) -> int:
        """Run the job; returns the process exit code (0 finished or stopped, 1 failed)."""
        code = 0
        keep_freed_buffers()
        if self.spec.batch_scheduling:
            schedule_as_batch()  # (before any thread or program is started: they inherit it)
        try:
            self._install_signals()
            self._open()
            self._run_setup()
            self._report("ready", endpoint=self.address)
            self._loop()
            self._teardown()
            self._report_state("FINISHED")
        except HostStopped:
            self._disarm()
            self._teardown()
            self._report_state("STOPPED")
        except JobFailed as failure:
            # The client shows the traceback and writes it to the job's log; a stop signal
            # arriving from here on must not cut the report short.
            self._stop_raised = True
            with contextlib.suppress(Exception):
                self._flush_all()  # the rounds before the failing one are complete: send them
                self._teardown()
            self._report_state("FAILED", error=str(failure), traceback=failure.trace)
            code = 1
        finally:
            self._stopping.set()
            self._drain_relays()
            self._close_all()
        return code

    def _drain_relays(self) -> None:
        """Let the last lines the job printed reach the client before the connection closes:
        replacing our stdout and stderr (the pipes' only write ends) ends the relay threads."""
        if not self._relays:
            return
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                os.dup2(devnull, fd)  # closes the pipe's write end; late writes go nowhere
            os.close(devnull)
        deadline = time.monotonic() + 1.0
        for relay in self._relays:
            relay.join(max(0.0, deadline - time.monotonic()))

    # == set-up ==============================================================================
    def _install_signals(self) -> None:
        if not self._use_alarm:
            return

        def stop(signum: int, frame: Any) -> None:
            if not self._stop_raised:
                self._stop_raised = True
                self._stopping.set()
                raise HostStopped()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.signal(signal.SIGUSR1, lambda *_: sys.stderr.write(self.describe() + "\n"))

    def _open(self) -> None:
        self.listener, self.address = endpoint.listen(self.spec.listen)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        sock = endpoint.connect(self.spec.control)
        sock.settimeout(5.0)
        handshake.connect(
            sock,
            self.secret,
            {"role": "host", "job": self.spec.job_id, "epoch": self.spec.epoch},
        )
        sock.settimeout(None)
        self.control = ControlChannel(sock)
        for target, name in (
            (self._accept_loop, "acceptor"),
            (self._control_loop, "control"),
            (self._heartbeat_loop, "heartbeat"),
        ):
            threading.Thread(target=target, name=name, daemon=True).start()
        for fd, stream in self.relay:
            relay = threading.Thread(
                target=self._relay_output, args=(fd, stream), name=f"relay-{stream}", daemon=True
            )
            relay.start()
            self._relays.append(relay)
        for link in self.outputs:
            threading.Thread(
                target=self._connect_loop, args=(link,), name=f"out-{link.pipe_id}", daemon=True
            ).start()

    def _run_setup(self) -> None:
        try:
            self.job.setup()
        except (HostStopped, JobFailed):
            raise
        except (Exception, SystemExit) as exc:
            raise JobFailed(
                f"{self.job.name}.setup() raised {_describe(exc)}", _user_trace(exc)
            ) from None
        self._setup_done = True

    def _teardown(self) -> None:
        if self._setup_done and not self._torn_down:
            self._torn_down = True
            try:
                self.job.teardown()
            except Exception as exc:
                sys.stderr.write(f"{self.job.name}.teardown() raised:\n{_user_trace(exc)}")

    # == helper threads =======================================================================
    def _accept_loop(self) -> None:
        assert self.listener is not None
        while not self._stopping.is_set():
            try:
                sock, peer = self.listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._authenticate_input,
                args=(sock, endpoint.peer_name(sock, peer)),
                daemon=True,
            ).start()

    def _authenticate_input(self, sock: socket.socket, peer: str) -> None:
        def decide(hello: dict[str, Any]) -> dict[str, Any]:
            pipe = hello.get("pipe")
            link = self._input_by_pipe.get(pipe)  # type: ignore[arg-type]
            if link is None:
                raise ProtocolError(f"{self.job.name} has no input pipe {pipe!r}")
            expected = self.spec.input_epochs.get(link.pipe_id, 0)
            if expected and hello.get("producer_epoch") != expected:
                raise ProtocolError(
                    f"pipe {pipe}: producer epoch {hello.get('producer_epoch')} is stale "
                    f"(expected {expected})"
                )
            if hello.get("consumer_epoch") not in (0, self.spec.epoch):
                raise ProtocolError(
                    f"pipe {pipe}: producer expects consumer epoch {hello.get('consumer_epoch')}"
                    f", this is epoch {self.spec.epoch}"
                )
            return {"consumer_epoch": self.spec.epoch, "resume_from": link.next_sqn}

        try:
            sock.settimeout(2.0)
            endpoint.tune(sock)
            hello, _ = handshake.accept(sock, self.secret, decide)
        except (OSError, FissionError) as exc:
            sys.stderr.write(
                f"fission: rejected a connection to {self.job.name} from {peer}: {exc}\n"
            )
            sock.close()
            return
        self._handoff.append(
            (
                "input",
                int(hello["pipe"]),
                sock,
                int(hello.get("acked", 0)),
                peer,
                int(hello.get("producer_epoch", 0)),
            )
        )
        self._wake()

    def _connect_loop(self, link: OutputLink) -> None:
        event = self._target_events[link.pipe_id]
        delay = 0.02
        while not self._stopping.is_set():
            event.wait()
            if self._stopping.is_set() or link.closed:
                return
            address, epoch = self._targets[link.pipe_id]
            try:
                sock = endpoint.connect(address, timeout=2.0)
                endpoint.tune(sock)
                answer = handshake.connect(
                    sock,
                    self.secret,
                    {
                        "role": "producer",
                        "pipe": link.pipe_id,
                        "producer_epoch": self.spec.epoch,
                        "consumer_epoch": epoch,
                        "acked": link.acked,
                    },
                )
                if epoch and answer.get("consumer_epoch") != epoch:
                    raise ProtocolError(
                        f"pipe {link.pipe_id}: consumer at {address} is epoch "
                        f"{answer.get('consumer_epoch')}, expected {epoch}"
                    )
            except (OSError, FissionError) as exc:
                if self._stopping.is_set():
                    return
                if isinstance(exc, FissionError):
                    sys.stderr.write(f"fission: pipe {link.pipe_id}: {exc}\n")
                retarget = self._retarget_events[link.pipe_id]
                if retarget.wait(delay):
                    retarget.clear()
                    delay = 0.02
                else:
                    delay = min(delay * 2, 0.5)
                continue
            delay = 0.02
            event.clear()
            sock.settimeout(None)
            self._handoff.append(("output", link.pipe_id, sock, int(answer.get("resume_from", 0))))
            self._wake()

    def _control_loop(self) -> None:
        assert self.control is not None
        while True:
            message = self.control.receive()
            if message is None:
                if not self._stopping.is_set():
                    sys.stderr.write("fission: lost the connection to the client; stopping\n")
                    self._request_stop()
                return
            self._last_contact = time.monotonic()
            kind = message["type"]
            if kind == "peers":
                self._apply_peers(message)
            elif kind == "stop":
                self._request_stop()
                return

    def _apply_peers(self, message: dict[str, Any]) -> None:
        """New endpoints and epochs from the client (start, or after a failover)."""
        for pipe_text, (address, epoch) in message.get("outputs", {}).items():
            pipe = int(pipe_text)
            if pipe not in self._target_events or self._targets.get(pipe) == (address, epoch):
                continue
            had_target = pipe in self._targets
            self._targets[pipe] = (str(address), int(epoch))
            if had_target:
                self._handoff.append(("retarget", pipe))
                self._retarget_events[pipe].set()
            self._target_events[pipe].set()
        for pipe_text, epoch in message.get("inputs", {}).items():
            pipe = int(pipe_text)
            if self.spec.input_epochs.get(pipe) != int(epoch):
                self.spec.input_epochs[pipe] = int(epoch)
                self._handoff.append(("refence", pipe))
        self._wake()

    def _heartbeat_loop(self) -> None:
        then = time.monotonic()
        counted = {link.pipe_id: 0 for link in self.inputs}
        while not self._stopping.wait(self.spec.heartbeat):
            stats = self.statistics()
            # blocks/s per input since the last report (the client keeps no history)
            now = time.monotonic()
            for link in self.inputs:
                entry = stats["inputs"][str(link.pipe_id)]
                received = entry["received"]
                entry["per_s"] = round((received - counted[link.pipe_id]) / (now - then), 1)
                counted[link.pipe_id] = received
            then = now
            self._report("stats", **stats)
            fence = self.spec.fence_after
            if fence and time.monotonic() - self._last_contact > fence:
                sys.stderr.write(
                    f"fission: no word from the client for {fence:.1f} s; this instance is "
                    f"fenced off and stops\n"
                )
                self._request_stop()
                return

    def _relay_output(self, fd: int, stream: str) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            self._report("output", stream=stream, text=data.decode(errors="replace"))

    def _request_stop(self) -> None:
        if self._use_alarm:
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGTERM)
        else:
            self._stop_requested = True
            self._stopping.set()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._in_user_code and self._use_alarm:
            # a slow run() must not delay connections: interrupt it briefly (see _on_alarm)
            with contextlib.suppress(OSError):
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGALRM)

    def describe(self) -> str:
        """One line of state per link, for a person debugging a stuck network (SIGUSR1)."""
        lines = [
            f"{self.job.name} epoch {self.spec.epoch}: state {self.state}, round "
            f"{self.round}, ending {self._ending}, slow {self._slow}, armed {self._armed}"
        ]
        lines += [f"  {link!r}" for link in (*self.inputs, *self.outputs)]
        return "\n".join(lines)

    # == reporting =============================================================================
    def _report(self, kind: str, **fields: Any) -> None:
        if self.control is not None:
            self.control.send(
                {"type": kind, "job": self.spec.job_id, "epoch": self.spec.epoch, **fields}
            )

    def _report_state(self, state: str, **fields: Any) -> None:
        self.state = state
        self._report("state", state=state, **fields, **self.statistics())

    def statistics(self) -> dict[str, Any]:
        # Counters the links keep anyway, read twice a second: nothing here costs per block.
        return {
            "round": self.round,
            "flagged": self.flagged_blocks,
            "inputs": {
                str(link.pipe_id): {
                    "next": link.next_sqn,
                    "received": link.received,
                    "queued": len(link.queue),
                    "gaps": link.gaps,
                    "duplicates": link.duplicates,
                    "acked": link.ack_sent,
                    "pauses": [[round(a, 4), round(b, 4)] for a, b in link.pauses],
                }
                for link in self.inputs
            },
            "outputs": {
                str(link.pipe_id): {
                    "last": link.last_sqn,
                    "acked": link.acked,
                    "unacked_bytes": link.unacked_bytes,
                    "connected": link.sock is not None,
                    "closed": link.closed,
                }
                for link in self.outputs
            },
        }

    # == the I/O thread =========================================================================
    def _loop(self) -> None:
        self.state = "RUNNING"
        source = not self._sync_inputs
        generator: Iterator[Any] | None = None
        if source and inspect.isgeneratorfunction(self.job.run):
            generator = self._call_user(self.job.run)
        more = True
        while True:
            self._take_handoffs()
            if self._ending:
                self._acknowledge_inputs(everything=True)
                if all(link.done for link in self.outputs):
                    break
                more = False
            elif source:
                more = self._produce(generator)
            else:
                more = self._process_rounds()
            self._flush_all()
            # acknowledged in steps, or ACK_AFTER after the last acknowledgement at the latest
            ack_due = self._acknowledge_inputs(everything=False)
            if self._ending and all(link.done for link in self.outputs):
                more = True  # everything is delivered: finish now, do not wait for an event
            if more:
                self._share_the_gil()
            self._wait_for_io(0 if more else ack_due)
        # everything delivered downstream: release the producers
        for link in self.inputs:
            link.send_ack(
                max(0, link.next_sqn - 1) if link.optional else self.round * link.block_count
            )
            link.send_close()

    def _share_the_gil(self) -> None:
        """Let the helper threads run during a long busy stretch of the I/O thread.

        A thread that only releases the GIL for an instant (a select with timeout 0) gets it
        straight back, so a CPU-bound job would starve the control, connector and heartbeat
        threads for as long as it keeps busy. A real pause of a fraction of a millisecond every
        YIELD_EVERY seconds hands the GIL over (about 1% of the time, only while busy).
        """
        now = time.monotonic()
        if now - self._last_pause > YIELD_EVERY:
            time.sleep(YIELD_PAUSE)
            self._last_pause = time.monotonic()

    def _wait_for_io(self, timeout: float | None) -> None:
        for link in self._sync_inputs:
            if link.held and link.may_read():
                link.held = False  # its program has room again: watch it again
                self._sync_registration(link)
        for key, mask in self._selector.select(timeout):
            link = key.data
            if link is _PROGRAM:
                self._await_program(False)  # it wrote: the next round_batch reads it
                continue
            if link is None:
                with contextlib.suppress(OSError):
                    while self._wake_r.recv(4096):
                        pass
                continue
            if type(link) is InputLink:
                try:
                    link.on_readable()
                except ProtocolError as exc:
                    sys.stderr.write(f"fission: {self.job.name}: {exc}; connection closed\n")
                if link.optional:
                    self._optional_state(link).trim()
                if link.sock is None or link.held:  # ended, or not to be read for now
                    self._sync_registration(link)
            else:
                if mask & selectors.EVENT_READ:
                    self._guard(link, link.on_readable)
                if mask & selectors.EVENT_WRITE and link.sock is not None:
                    link.send_some()
                self._sync_registration(link)

    def _guard(self, link: InputLink | OutputLink, action: Callable[[], bool]) -> None:
        try:
            action()
        except ProtocolError as exc:
            sys.stderr.write(f"fission: {self.job.name}: {exc}; connection closed\n")
        self._sync_registration(link)

    def watch_program(self, fd: int | None) -> None:
        """The output pipe of the job's program (None: gone), to watch while round_batch says
        NOT_YET: the I/O thread then also wakes when the program has written."""
        self._await_program(False)
        self._program_fd = fd

    def _await_program(self, waiting: bool) -> None:
        # watched only while waited for: a level-triggered pipe with output nobody may take
        # yet (no credit downstream), or one whose writer is gone, would wake us for ever
        fd = self._program_fd
        if fd is None or waiting == self._program_watched:
            return
        if waiting:
            self._selector.register(fd, selectors.EVENT_READ, _PROGRAM)
        else:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)
        self._program_watched = waiting

    def _sync_registration(self, link: InputLink | OutputLink) -> None:
        key = id(link)
        current = self._registered.get(key)
        sock = link.sock
        if type(link) is InputLink and link.held and sock is not None:
            if current is not None:  # its program is full: the socket keeps what follows
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(current[0])
                del self._registered[key]
            return
        events = selectors.EVENT_READ
        if isinstance(link, OutputLink) and link.unsent:
            events |= selectors.EVENT_WRITE
        if current is not None and (sock is None or current[0] is not sock):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(current[0])
            del self._registered[key]
            current = None
            if sock is None and isinstance(link, OutputLink) and not link.closed:
                self._target_events[link.pipe_id].set()  # reconnect
        if sock is None:
            return
        if current is None:
            self._selector.register(sock, events, link)
            self._registered[key] = (sock, events)
        elif current[1] != events:
            self._selector.modify(sock, events, link)
            self._registered[key] = (sock, events)

    def _take_handoffs(self) -> None:
        if self._stop_requested:
            raise HostStopped()
        if self._flush_due:
            self._flush_due = False
            self._flush_all()
        handoff = self._handoff
        while handoff:
            item = handoff.popleft()
            if item[0] == "input":
                _, pipe, sock, acked, peer, producer_epoch = item
                link = self._input_by_pipe[pipe]
                expected = self.spec.input_epochs.get(pipe, 0)
                if expected and producer_epoch != expected:
                    sock.close()  # fenced while the handshake was under way
                    continue
                self._unregister(link)
                link.attach(sock, acked, peer)
                link.producer_epoch = producer_epoch
                self._sync_registration(link)
            elif item[0] == "output":
                _, pipe, sock, resume_from = item
                link = self._output_by_pipe[pipe]
                self._unregister(link)
                # a fresh consumer (0) was restarted too: go by the client's hint instead
                self._resume_points[pipe] = resume_from or self.spec.resume_hints.get(pipe, 0)
                link.attach(sock, resume_from)
                self._sync_registration(link)
            elif item[0] == "retarget":
                # the consumer moved: drop the old connection, the connector dials the new one
                link = self._output_by_pipe[item[1]]
                self._unregister(link)
                link.detach()
            elif item[0] == "refence":
                # the producer has a new epoch: the old instance may no longer deliver
                link = self._input_by_pipe[item[1]]
                if link.sock is not None and link.producer_epoch != self.spec.input_epochs.get(
                    link.pipe_id
                ):
                    self._unregister(link)
                    link.detach()

    def _unregister(self, link: InputLink | OutputLink) -> None:
        current = self._registered.pop(id(link), None)
        if current is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(current[0])

    # == producing ============================================================================
    def _call_user(self, function: Callable[..., Any], *args: Any) -> Any:
        self._in_user_code = True
        try:
            return function(*args)
        except (HostStopped, JobFailed):
            raise
        except Exception as exc:
            raise JobFailed(
                f"{self.job.name}.{getattr(function, '__name__', 'run')}() raised {_describe(exc)}",
                _user_trace(exc),
            ) from None
        finally:
            self._in_user_code = False

    def _produce(self, generator: Iterator[Any] | None) -> bool:
        """Run a source for up to one batch; True if it may go on at once."""
        outputs = self.outputs
        if all(link.closed for link in outputs):
            self._end_stream(self.round)
            return False
        if not self._resumed and not self._resume_source():
            return False
        budget = min(BATCH_BLOCKS, *(link.credit() for link in outputs))
        if budget <= 0:
            return False
        byte_budget = self._byte_budget()
        queued = 0
        job = self.job
        call = generator.__next__ if generator is not None else job.run
        if not self._plain:
            call = self._source_call(call)
        fast = self._fast_output()
        if fast is not None:
            out, append, header, pipe_id, pack = fast
            batch = out.batch
        emit = self._emitter.emit
        clock = time.perf_counter
        started = 0.0
        for _ in range(budget):
            slow = self._slow
            if slow:
                # A slow source sends each block just before it goes back into user code (which
                # will block): nothing of ours runs between the send and the consumer's turn.
                self._flush_all()
                started = clock()
            self._in_user_code = True
            try:
                value = call()
            except StopIteration:
                self._in_user_code = False
                self._end_stream(self.round)
                return False
            except (HostStopped, JobFailed):
                raise
            except (Exception, SystemExit) as exc:
                raise JobFailed(
                    f"{job.name}.run() raised {_describe(exc)}", _user_trace(exc)
                ) from None
            finally:
                self._in_user_code = False
            if slow:
                self._note_call(clock() - started)
            finishing = job._finish_requested
            if value is not None:
                sqn = self.round + 1
                self.round = sqn
                if not self._armed and not slow:
                    self._started_batch()
                if (
                    slow
                    and fast is not None
                    and not finishing
                    and not self._gap_pending
                    and type(value) is not tuple
                ):
                    # a slow source's block leaves at once, before any bookkeeping
                    try:
                        payload = pack(value)
                    except Exception as exc:
                        raise JobFailed(self._pack_error(sqn, exc), _user_trace(exc)) from None
                    out.send_now(_DATA, sqn, payload)
                    if out.unsent or out.sock is None:
                        self._sync_registration(out)
                elif (
                    fast is not None
                    and not finishing
                    and not self._gap_pending
                    and type(value) is not tuple
                ):
                    # the common case, inlined: one output, one value
                    try:
                        payload = pack(value)
                    except Exception as exc:
                        raise JobFailed(self._pack_error(sqn, exc), _user_trace(exc)) from None
                    if not batch:
                        out.batch_first = sqn
                    append(header(_DATA, 0, pipe_id, sqn, len(payload)))
                    append(payload)
                    out.last_sqn = sqn
                    queued += len(payload)
                else:
                    flags = FLAG_FINISHED if finishing else 0
                    if self._gap_pending:  # first block after a live source's outage
                        flags |= FLAG_CORRUPTED
                        self._gap_pending = False
                    if self._heads:
                        queued += self._emit_heads(sqn, value, flags)
                    else:
                        queued += self._emit(fast, emit, sqn, value, flags)
            if finishing:
                self._end_stream(self.round)
                return False
            if self._flush_due or queued >= byte_budget:
                # A slow source's blocks have left already; it reads acks when its turn ends
                # (BATCH_BLOCKS blocks). Returning to the loop more often was measured to cost
                # 30-40 us of latency per hop at p50 on 2 cores.
                return True
        return True

    def _source_call(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """A source's call with fresh heads (HEAD) or its optional inputs' values as arguments."""
        job = self.job
        outputs = len(self.outputs)
        optional = self._optional
        heads = self._heads

        def wrapped() -> Any:
            if heads:
                job.in_heads = []
                job.head = Head()
                job.out_heads = [None] * outputs
            if optional:
                values = [state.take() for state in optional]
                if heads:
                    job.in_heads = [Head(flags) for _, flags in values]
                    job.head = job.head_reduce()
                return job.run(*(value for value, _ in values))
            return call()

        return wrapped

    def _emit_heads(self, sqn: int, result: Any, round_flags: int) -> int:
        """Queue a HEAD job's round: each output's head from ``out_heads`` or ``head``.

        The same rule as :func:`fission.core.head.outgoing_flags`, inlined: user and corrupted
        bits from what the job wrote (or the inputs' if it wrote None), the inputs' corrupted
        bit always, finished on the last block, never reset.
        """
        job = self.job
        extra = round_flags & (FLAG_CORRUPTED | FLAG_FINISHED)
        head = job.head
        default = (round_flags if head is None else int(head)) & _PASSED_ON
        chosen = job.out_heads
        count = len(self.outputs)
        flags = [default | extra] * count
        if chosen:
            for index, written in enumerate(chosen[:count]):
                if written is not None:
                    flags[index] = (int(written) & _PASSED_ON) | extra
        try:
            return self._emitter.emit_each(sqn, result, flags)
        except ApiMisuse as exc:
            raise JobFailed(str(exc), "") from None
        except Exception as exc:
            raise JobFailed(self._pack_error(sqn, exc), _user_trace(exc)) from None

    def _optional_state(self, link: InputLink) -> _Optional:
        for state in self._optional:
            if state.link is link:
                return state
        raise KeyError(link.pipe_id)

    def _byte_budget(self) -> int:
        """Bytes the next batch may hold: the smallest free byte credit, at most BATCH_BYTES."""
        return min(
            BATCH_BYTES,
            *(link.window_bytes - link.unacked_bytes for link in self.outputs if not link.closed),
        )

    def _resume_source(self) -> bool:
        """A restarted source continues the numbering where its consumers are (DESIGN 5).

        Once every consumer answered, numbering goes on after the highest sqn one of them
        already holds. A source defining ``resume(last_sqn)`` regenerates its data from there
        (a replayable source); any other is a live source whose outage is a gap: its first
        block is flagged as following lost data, and counted.
        """
        if len(self._resume_points) < sum(1 for link in self.outputs if not link.closed):
            return False
        resume = getattr(self.job, "resume", None)
        points = [point - 1 for point in self._resume_points.values()]
        # A replayable source regenerates from the consumer that is furthest behind (the others
        # drop what they have); a live one cannot, so it goes on after the furthest ahead.
        last = (min if callable(resume) else max)(points, default=0)
        self.round = max(self.round, last)
        for link in self.outputs:
            link.last_sqn = link.acked = max(link.acked, last)
        self._resumed = True
        if callable(resume):
            self._call_user(resume, last)
        else:
            self._gap_pending = True
        return True

    def _fast_output(self) -> tuple[Any, ...] | None:
        """For a job with one open output: what the hot loop needs to append frames itself."""
        if len(self.outputs) != 1 or self.outputs[0].closed or self._heads:
            return None
        if self._fast is None:  # the link, its batch list and codec never change: build once
            link = self.outputs[0]
            self._fast = (
                link,
                link.batch.append,
                HEADER.pack,
                link.pipe_id,
                self._emitter.packers[0],
            )
        return self._fast

    def _emit(
        self,
        fast: tuple[Any, ...] | None,
        emit: Callable[[int, Any, int], int],
        sqn: int,
        value: Any,
        flags: int,
    ) -> int:
        """Queue round ``sqn``'s result (inline for one output and one value, else generic);
        returns the bytes queued on the fullest link."""
        try:
            if fast is not None and value is not None and type(value) is not tuple:
                link, append, header, pipe_id, pack = fast
                payload = pack(value)
                if not link.batch:
                    link.batch_first = sqn
                append(header(_DATA, flags, pipe_id, sqn, len(payload)))
                append(payload)
                link.last_sqn = sqn
                return len(payload)
            return emit(sqn, value, flags)
        except ApiMisuse as exc:
            raise JobFailed(str(exc), "") from None
        except Exception as exc:
            raise JobFailed(self._pack_error(sqn, exc), _user_trace(exc)) from None

    def _pack_error(self, sqn: int, exc: Exception) -> str:
        return f"{self.job.name}: encoding the output of round {sqn} failed: {_describe(exc)}"

    def _note_call(self, duration: float) -> None:
        """Slow mode: leave it after a run of quick calls (the job sped up)."""
        if duration > SLOW_CALL:
            self._quick_calls = 0
        else:
            self._quick_calls += 1
            if self._quick_calls >= 32:
                self._slow = False

    def _started_batch(self) -> None:
        if self._use_alarm:
            self._armed = True
            signal.setitimer(signal.ITIMER_REAL, FLUSH_AFTER)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        timed = self._armed  # not a wake-up (_wake): a batch really was FLUSH_AFTER old
        self._armed = False
        # A batch still this small after FLUSH_AFTER means the job is slow: from now on its
        # blocks leave one by one (see _note_call for the way back).
        # Only if the time went to user code: outside it, the process was merely not scheduled
        # (3 processes on 2 cores are preempted for milliseconds at times). A job wrongly taken
        # for slow leaves slow mode after a few quick calls (_note_call).
        if timed and self._in_user_code and sum(len(link.batch) for link in self.outputs) < 32:
            self._slow = True
            self._quick_calls = 0
        if self._in_user_code:
            # The I/O thread is inside user code (e.g. a source sleeping): link state is
            # quiescent, so new connections and pending output can be handled right here.
            self._take_handoffs()
            self._flush_all()
        else:
            self._flush_due = True

    def _disarm(self) -> None:
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _flush_all(self) -> None:
        self._disarm()
        self._flush_due = False
        for link in self.outputs:
            if link.batch:
                link.flush()
                self._sync_registration(link)

    # == consuming ============================================================================
    def _process_rounds(self) -> bool:
        """Run every complete round the outputs have credit for; True if more may be ready."""
        inputs = self._sync_inputs
        outputs = self.outputs
        if outputs and all(link.closed for link in outputs):
            self._end_stream(self.round)
            return False
        if not self._started_round:
            if not all(link.queue or link.eos is not None for link in inputs):
                return False  # wait until every producer delivered (or ended) once
            self._started_round = True
            # A fresh instance starts with the first round its producers still have: after the
            # last round every input had acknowledged (it reached the sinks), or later when a
            # restarted source goes on from where the jobs after us are.
            self.round = max(
                ((link.queue[0][0] - 1) if link.queue else link.base) // link.block_count
                for link in inputs
            )
            self._acked_round = self.round
            for out in outputs:
                out.last_sqn = out.acked = max(out.acked, self.round)
        budget = ROUNDS_PER_TURN
        byte_budget = 0
        if outputs:
            for link in outputs:
                budget = min(budget, link.credit())
            if budget <= 0:
                return False
            byte_budget = self._byte_budget()
        plain = self._plain
        if (
            plain
            and len(inputs) == 1
            and inputs[0].block_count == 1
            and len(outputs) <= 1
            # a batching program sends what it made after every call: slow or not alike
            and (not self._slow or self.round_batch is not None)
            and (not outputs or not outputs[0].closed)
        ):
            finished = self._simple_rounds(inputs[0], budget, byte_budget)
            if finished is not None:
                return finished
        queued = 0
        job = self.job
        run = job.run
        emit = self._emitter.emit
        fast = self._fast_output()
        single = inputs[0] if plain and len(inputs) == 1 and inputs[0].block_count == 1 else None
        unpack = self._unpackers[0]
        clock = time.perf_counter
        started = 0.0
        for _ in range(budget):
            r = self.round + 1
            if single is not None:
                queue_ = single.queue
                if not queue_:
                    if single.eos is not None and single.eos < r:
                        self._end_stream(self.round)
                    return False
                sqn, kind, flags, payload = queue_[0]
                if sqn == r and kind == _DATA:
                    queue_.popleft()
                    single.last_payload = payload
                elif sqn == r:  # a skipped round upstream (None): pass it on
                    queue_.popleft()
                    self.round = r
                    self._emit(fast, emit, r, None, flags & _PASSED_ON)
                    continue
                else:  # sqn r is lost (a gap): the pipe's policy decides
                    payload = self._gap_payload(0, single)
                    if payload is None:
                        self.round = r
                        self._emit(fast, emit, r, None, 0)
                        continue
                    flags = FLAG_CORRUPTED
                if flags & FLAG_CORRUPTED:
                    self.flagged_blocks += 1
                round_flags = flags & _PASSED_ON
                try:
                    args: Any = (unpack(payload),)
                except Exception as exc:
                    raise JobFailed(
                        f"{job.name}: decoding a block of pipe {single.pipe_id} failed: "
                        f"{_describe(exc)}",
                        _user_trace(exc),
                    ) from None
            else:
                args = self._gather(r)
                if args is False:
                    return False
                round_flags = self._round_flags
                if args is None:
                    self.round = r
                    self._emit(fast, emit, r, None, round_flags & _PASSED_ON)
                    continue
                if self._optional:
                    for state in self._optional:
                        value, _flags = state.take()
                        args.insert(state.position, value)
                        if self._heads:
                            job.in_heads.insert(state.position, Head(_flags))
                if self._heads:
                    job.head = self._call_user(job.head_reduce)
                    job.out_heads = [None] * len(outputs)
            slow = self._slow
            if slow:
                started = clock()
            self._in_user_code = True
            try:
                result = run(*args)
            except (HostStopped, JobFailed):
                raise
            except (Exception, SystemExit) as exc:
                raise JobFailed(
                    f"{job.name}.run() raised {type(exc).__name__} in round {r}: {exc}",
                    _user_trace(exc),
                ) from None
            finally:
                self._in_user_code = False
            self.round = r
            finishing = job._finish_requested
            if outputs:
                if not self._armed and not slow:
                    self._started_batch()
                flags = round_flags | FLAG_FINISHED if finishing else round_flags
                if self._heads:
                    queued += self._emit_heads(r, result, flags)
                else:
                    queued += self._emit(fast, emit, r, result, flags)
                if queued >= byte_budget:
                    return True
            if finishing:
                self._end_stream(r)
                return False
            if slow:
                self._note_call(clock() - started)
            if slow or self._flush_due:
                self._flush_all()
                self._acknowledge_inputs(everything=True)
        return True

    def _simple_rounds(self, link: InputLink, budget: int, byte_budget: int) -> bool | None:
        """The most common shape at full speed: one input (BLOCK_COUNT 1), at most one output.

        Same contract as :meth:`_process_rounds`; returns None when the next frame needs the
        general path (a SKIP, a gap, a block with head bits).
        """
        queue_ = link.queue
        popleft = queue_.popleft
        unpack = self._unpackers[0]
        job = self.job
        run = job.run
        fast = self._fast_output()
        if fast is not None and self.round_batch is not None:
            return self._batched_rounds(link, budget, byte_budget, fast)
        if fast is not None:
            out, append, header, pipe_id, pack = fast
            batch = out.batch
        queued = 0
        r = self.round
        taken = None
        try:
            for _ in range(budget):
                if not queue_:
                    if link.eos is not None and link.eos <= r:
                        self._end_stream(r)
                    return False
                item = popleft()
                sqn, kind, flags, payload = item
                if sqn != r + 1 or kind != _DATA or flags:
                    queue_.appendleft(item)
                    return None
                r = sqn
                taken = item
                try:
                    value = unpack(payload)
                except (Exception, SystemExit) as exc:
                    raise JobFailed(
                        f"{job.name}: decoding a block of pipe {link.pipe_id} failed: "
                        f"{_describe(exc)}",
                        _user_trace(exc),
                    ) from None
                self._in_user_code = True
                try:
                    result = run(value)
                except (HostStopped, JobFailed):
                    raise
                except (Exception, SystemExit) as exc:
                    raise JobFailed(
                        f"{job.name}.run() raised {type(exc).__name__} in round {r}: {exc}",
                        _user_trace(exc),
                    ) from None
                finally:
                    self._in_user_code = False
                self.round = r
                if fast is not None:
                    if not self._armed:
                        self._started_batch()
                    if (
                        result is not None
                        and type(result) is not tuple
                        and not job._finish_requested
                    ):
                        try:
                            payload = pack(result)
                        except Exception as exc:
                            raise JobFailed(self._pack_error(r, exc), _user_trace(exc)) from None
                        if not batch:
                            out.batch_first = r
                        append(header(_DATA, 0, pipe_id, r, len(payload)))
                        append(payload)
                        out.last_sqn = r
                        queued += len(payload)
                        if queued >= byte_budget or self._flush_due or self._slow:
                            return True
                        continue
                    flags = FLAG_FINISHED if job._finish_requested else 0
                    queued += self._emit(fast, self._emitter.emit, r, result, flags)
                if job._finish_requested:
                    self._end_stream(r)
                    return False
                if self._flush_due or self._slow or queued >= byte_budget > 0:
                    return True
            return True
        finally:
            if taken is not None:  # the last block taken: what the "previous" gap policy repeats
                link.last_payload = taken[3]

    def _batched_rounds(
        self, link: InputLink, budget: int, byte_budget: int, fast: tuple[Any, ...]
    ) -> bool | None:
        """:meth:`_simple_rounds` for a job with ``round_batch``: many rounds per call."""
        queue_ = link.queue
        done = self.round
        if not queue_:
            if link.eos is not None and link.eos <= done:
                self._end_stream(done)
            return False
        sqn, kind, flags, _payload = queue_[0]
        if sqn != done + 1 or kind != _DATA or flags:
            return None
        assert self.round_batch is not None
        out, _append, _header, pipe_id, _pack = fast
        self._in_user_code = True
        try:
            frames, count = self.round_batch(link, done, budget, byte_budget, pipe_id)
        finally:
            self._in_user_code = False
        if count < 0:
            self._await_program(True)
            return False  # its program is still at work: wait for it with the sockets
        if not count:
            return None  # run() takes the round and sees how the program ended
        if type(frames) is Spliced:  # (outside user code: signals may touch the links)
            if out.send_spliced(frames, done + 1, done + count):
                frames = []
                if out.unsent or out.sock is None:
                    self._sync_registration(out)  # wait until writable, or reconnect
            else:
                frames = frames.read()
        if frames:
            if not self._armed:
                self._started_batch()
            if not out.batch:
                out.batch_first = done + 1
            out.batch.extend(frames)
        for _ in range(count):
            taken = queue_.popleft()
        link.last_payload = taken[3]  # what the "previous" gap policy repeats
        out.last_sqn = self.round = done + count
        return True

    def _gap_payload(self, index: int, link: InputLink) -> bytes | None:
        """The stand-in for a lost block of sync input ``index``, or None to skip it."""
        pipe = self._sync_pipes[index]
        policy = pipe.GAP_POLICY
        if policy == "dummy":
            dummy = pipe.dummy_payload()
            return dummy if dummy is not None else link.last_payload
        if policy == "previous":
            return link.last_payload
        return None

    def _gather(self, r: int) -> list[Any] | bool | None:
        """Arguments of round ``r``; None if no input carries data; False if not complete.

        Also sets ``self._round_flags`` (OR of the blocks' heads) and, for a HEAD job,
        ``job.in_heads``. Lost sqns are filled per the pipe's gap policy.
        """
        inputs = self._sync_inputs
        for link in inputs:
            high = r * link.block_count
            queue_ = link.queue
            if queue_ and queue_[-1][0] >= high:
                continue
            if link.eos is not None and link.eos < high:
                if link.eos < high - link.block_count + 1 or not queue_:
                    self._end_stream(self.round)
                    return False
                continue  # the last, partial round of a stream that ended
            return False
        args: list[Any] = []
        heads: list[Any] = []
        any_data = False
        round_flags = 0
        want_heads = self._heads
        for index, (link, unpack) in enumerate(zip(inputs, self._unpackers, strict=True)):
            count = link.block_count
            queue_ = link.queue
            if count == 1 and queue_ and queue_[0][0] == r:  # the usual case: its block is here
                _sqn, kind, flags, payload = queue_.popleft()
                round_flags |= flags
                if flags & FLAG_CORRUPTED:
                    self.flagged_blocks += 1
                if kind == _DATA:
                    link.last_payload = payload
                    any_data = True
                    args.append(_decode(unpack, payload, link.pipe_id, self.job))
                else:
                    args.append(None)
                if want_heads:
                    heads.append(Head(flags) if kind == _DATA else Head())
                continue
            low = (r - 1) * count + 1
            high = r * count
            queue_ = link.queue
            values: list[Any] = []
            value_heads: list[Head] = []
            expected = low
            while queue_ and queue_[0][0] <= high:
                sqn, kind, flags, payload = queue_.popleft()
                if sqn < low:
                    continue
                while expected < sqn:  # lost sqns inside the round
                    round_flags |= self._fill(index, link, unpack, values, value_heads)
                    expected += 1
                expected = sqn + 1
                round_flags |= flags
                if flags & FLAG_CORRUPTED:
                    self.flagged_blocks += 1
                if kind == _DATA:
                    link.last_payload = payload
                    values.append(_decode(unpack, payload, link.pipe_id, self.job))
                    if want_heads:
                        value_heads.append(Head(flags))
            if queue_:  # later blocks are here, so the rest of this round was lost
                while expected <= high:
                    round_flags |= self._fill(index, link, unpack, values, value_heads)
                    expected += 1
            if values:
                any_data = True
            if count == 1:
                args.append(values[0] if values else None)
                if want_heads:
                    heads.append(value_heads[0] if value_heads else Head())
            else:
                args.append(values)
                if want_heads:
                    heads.append(value_heads)
        self._round_flags = round_flags & _PASSED_ON
        if want_heads:
            self.job.in_heads = heads
        return args if any_data else None

    def _fill(
        self,
        index: int,
        link: InputLink,
        unpack: Callable[[bytes], Any],
        values: list[Any],
        heads: list[Head],
    ) -> int:
        """Fill one lost block per the gap policy; returns the flags it adds to the round."""
        payload = self._gap_payload(index, link)
        if payload is None:
            return 0
        self.flagged_blocks += 1
        values.append(_decode(unpack, payload, link.pipe_id, self.job))
        if self._heads:
            heads.append(Head(FLAG_CORRUPTED))
        return FLAG_CORRUPTED

    def _acknowledge_inputs(self, everything: bool = True) -> float | None:
        """Acknowledge upstream every round whose effect is safe downstream (DESIGN section 5).

        Unless ``everything``, only in steps of ``_ack_step`` rounds: each acknowledgement wakes
        the producer, and credit windows are far larger than the step. Optional inputs are
        acknowledged as their values are taken.
        """
        if not self._sync_inputs:
            return None
        if self.outputs:
            done = min((self.round if link.closed else link.acked) for link in self.outputs)
        else:
            done = self.round
        if done <= self._acked_round:
            return None
        now = time.monotonic()
        # a step of big blocks may be more than the byte window holds: acknowledge at least
        # every ACK_AFTER seconds, or the producer would stop and go
        if (
            not everything
            and done - self._acked_round < self._ack_step
            and now - self._acked_at < ACK_AFTER
        ):
            return self._acked_at + ACK_AFTER - now
        self._acked_at = now
        self._acked_round = done
        for link in self._sync_inputs:
            link.send_ack(done * link.block_count)
        return None

    def _end_stream(self, last: int) -> None:
        if self._ending:
            return
        self._ending = True
        for link in self.outputs:
            link.end(last)
        self._flush_all()
        self._teardown()

    def _close_all(self) -> None:
        self._disarm()
        for link in (*self.inputs, *self.outputs):
            link.detach()
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.close()
        if self.control is not None:
            self.control.close()


def _decode(unpack: Callable[[bytes], Any], payload: bytes, pipe: int, job: BaseJob) -> Any:
    try:
        return unpack(payload)
    except Exception as exc:
        raise JobFailed(
            f"{job.name}: decoding a block of pipe {pipe} failed: {_describe(exc)}",
            _user_trace(exc),
        ) from None


def _describe(exc: BaseException) -> str:
    """``Type: message``, or just the type and its arguments when the message is empty."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else repr(exc)


def _user_trace(exc: BaseException) -> str:
    """The traceback without FISSION's own frames (the user's code is what matters)."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if f"{os.sep}fission{os.sep}runtime{os.sep}" not in frame.filename
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
