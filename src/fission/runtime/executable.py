"""The bridge between a job host and an executable job's program (ExecutableJob, MARVELOJob).

The program gets one pipe per input and per output: named pipes (FIFOs in the job's working
folder) whose paths follow the flags, or, for MARVELO programs, inherited descriptors whose
numbers follow the flags. Each round the bridge writes the round's input blocks in their
pipe's byte format and reads one block per output back (the MARVELO model: one block in, one
block out, per round). A source program is read until it exits.

FIFO ends are opened so that no open can block, whatever order the program opens them in:
our write ends read-write, our read ends non-blocking with a spare writer of our own that is
closed when the program exits (so a read sees end-of-file exactly when the program is gone and
everything it wrote was read).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import io
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from fission.core.errors import PipeError
from fission.core.jobs import ExecutableJob
from fission.core.pipes import BasePipe, BytesPipe
from fission.runtime import pagestore
from fission.runtime.framing import HEADER, RUN_BLOCK_MAX, Kind, run_length
from fission.runtime.host import JobFailed
from fission.runtime.links import Spliced, frame_parts
from fission.runtime.pipeio import bytes_waiting, read_exactly

__all__ = ["ExecutableBridge", "ExecutableFailed", "attach"]

#: The folder, inside the job's working folder, holding the FIFOs.
FIFO_FOLDER = ".fission-fifo"
#: How long a program may take to end after its inputs were closed.
EXIT_GRACE = 2.0
#: Lines of the program's stderr kept for the failure report.
STDERR_TAIL = 20
#: Pipe capacity asked for (Linux allows up to /proc/sys/fs/pipe-max-size, 1 MiB by default).
PIPE_BYTES = 1 << 20
#: Output frames whose payloads are at least this big go out by splice (see _splice_ready).
SPLICE_MIN = 16 * 1024
#: At most this many blocks are given to a program ahead of its rounds.
AHEAD_MAX = 64
_PAGE = os.sysconf("SC_PAGE_SIZE")
#: run_batch's count when the program has not written its next block yet.
NOT_YET = -1
_F_SETPIPE_SZ = 1031
_F_GETPIPE_SZ = 1032
_DATA = int(Kind.DATA)
_RUN = int(Kind.RUN)

_EOF = object()


class ExecutableFailed(JobFailed):
    """The program could not start, ended too early, or broke a pipe's format."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "")


def attach(job: ExecutableJob, host: Any = None) -> ExecutableBridge:
    """Make the job's setup/run/teardown those of a bridge to its program (``host``: the job
    host, whose received blocks the bridge may feed ahead)."""
    bridge = ExecutableBridge(job, host)
    job.setup = bridge.start  # type: ignore[method-assign]
    job.run = bridge.produce if not job.inputs else bridge.process  # type: ignore[method-assign]
    job.teardown = bridge.stop  # type: ignore[method-assign]
    return bridge


class _DirectFeed:
    """The program's input pipe as a :class:`~fission.runtime.links.ProgramFeed`: the input link
    may move blocks into it itself, as long as they come in order and the program has room."""

    def __init__(self, bridge: ExecutableBridge, block_size: int, limit: int) -> None:
        self.bridge = bridge
        self.fd = bridge.writers[0].fileno()
        self.block_size = block_size
        self.limit = limit  # blocks the program may hold (its rounds not done yet)

    def room(self, received: int) -> int:
        bridge = self.bridge
        done = bridge.host.round
        given = max(bridge.written, done)  # rounds done are owed nothing (see run_batch)
        if given != received:
            return 0  # blocks received before still wait for their turn: order first
        return done + self.limit - given

    def given(self, sqn: int) -> None:
        self.bridge.written = sqn

    def write(self, data: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):  # it exited: its rounds report how
            self.bridge.writers[0].write(data)  # (stop() takes the feed away first)

    def lost(self, given: int, size: int) -> NoReturn:
        pipe = self.bridge.job.inputs[0].id
        raise ExecutableFailed(
            f"{self.bridge.job.name}: pipe {pipe}: the connection broke inside a block "
            f"({given} of {size} bytes given to the program, which can no longer be in step)"
        )


class _ProgramInput:
    """Our write end of one of the program's inputs, as a file for ``write_wrapper``.

    Non-blocking underneath: a FIFO end we hold read-write never reports a dead reader, so a
    full pipe is waited on in short steps, and a program that has exited ends the wait.
    """

    def __init__(self, fd: int, bridge: ExecutableBridge) -> None:
        self.fd = fd
        self.bridge = bridge
        os.set_blocking(fd, False)
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                if not self._poll.poll(50) and self.bridge.exited():
                    raise BrokenPipeError(errno.EPIPE, "the program has exited") from None
        return len(data)

    def write_all(self, blocks: list[bytes]) -> None:
        """Write several blocks with as few system calls as the pipe allows."""
        total = sum(map(len, blocks))
        written = self._writev(blocks)
        if written == total:
            return
        rest = b"".join(blocks)[written:]  # rare: the pipe was nearly full
        self.write(rest)

    def _writev(self, blocks: list[bytes]) -> int:
        try:
            return os.writev(self.fd, blocks)
        except BlockingIOError:
            return 0

    def flush(self) -> None:
        """Writes are not buffered."""

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        os.close(self.fd)


def block_writer(pipe: BasePipe) -> Callable[[_ProgramInput, Any], None]:
    """Writes one block of ``pipe`` the way a program reads it (the pipe's ``write_wrapper``)."""
    pack = pipe.encoder()
    write = pipe.write_wrapper
    return lambda stream, value: write(stream, pack(value))


def block_reader(pipe: BasePipe, job: ExecutableJob) -> Callable[[io.BufferedReader], Any]:
    """Reads one block of ``pipe`` from a program's output (the pipe's ``read_wrapper``) and
    decodes it (the job host encodes it again for the wire); ``_EOF`` at a clean end."""
    cut = pipe.read_wrapper
    unpack = pipe.decoder()

    def read(stream: io.BufferedReader) -> Any:
        try:
            data = cut(stream)
        except PipeError as exc:
            raise ExecutableFailed(f"{job.name}: pipe {pipe.id}: {exc}") from None
        if data is None:
            return _EOF
        try:
            return unpack(data)
        except Exception as exc:
            raise ExecutableFailed(
                f"{job.name}: the program wrote a block that is not valid for pipe {pipe.id} "
                f"({type(pipe).__name__}): {type(exc).__name__}: {exc}"
            ) from None

    return read


class ExecutableBridge:
    """One executable job's program and its pipes, driven by the job host."""

    def __init__(self, job: ExecutableJob, host: Any = None) -> None:
        self.job = job
        self.host = host
        # feeding ahead (see _feed_ahead): blocks the program may hold, and the last sqn given
        self.ahead = 1
        self.written = 0
        self._out_size = 0  # with run_batch: the output's block size
        self.program: subprocess.Popen[bytes] | None = None
        self.writers: list[_ProgramInput] = []  # per input: our write end
        self.readers: list[io.BufferedReader] = []  # per output: our read end
        self._spare_writers: list[int] = []
        self._encoders = [block_writer(p) for p in job.inputs]
        self._decoders: list[Callable[[io.BufferedReader], Any]] = []
        self._counts = [p.block_count for p in job.inputs]
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL)
        self._stderr_done = threading.Event()
        self.command: list[str] = []

    # -- setup -------------------------------------------------------------------------------
    def start(self) -> None:
        job = self.job
        self._decoders = [block_reader(p, job) for p in job.outputs]
        by_fd = bool(job.PASS_FDS)
        folder = Path(FIFO_FOLDER)
        if not by_fd:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        arguments: list[str] = []
        child_fds: list[int] = []
        for pipe in job.inputs:
            if by_fd:
                read_end, write_end = os.pipe()
                child_fds.append(read_end)
                arguments += [job.INPUT_FLAG, str(read_end)]
            else:
                path = folder / f"in-{pipe.id}.fifo"
                os.mkfifo(path)
                write_end = os.open(path, os.O_RDWR)  # never blocks, unlike O_WRONLY
                arguments += [job.INPUT_FLAG, str(path.resolve())]
            self.writers.append(_ProgramInput(write_end, self))
        read_ends: list[int] = []
        for pipe in job.outputs:
            if by_fd:
                read_end, write_end = os.pipe()
                child_fds.append(write_end)
                arguments += [job.OUTPUT_FLAG, str(write_end)]
            else:
                path = folder / f"out-{pipe.id}.fifo"
                os.mkfifo(path)
                read_end = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                self._spare_writers.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                os.set_blocking(read_end, True)
                arguments += [job.OUTPUT_FLAG, str(path.resolve())]
            read_ends.append(read_end)
        self.command = [
            *shlex.split(str(job.EXECUTABLE)),
            *shlex.split(str(job.PARAMETERS)),
            *arguments,
        ]
        program = self.command[0]
        if "/" not in program and Path(program).is_file():
            self.command[0] = f"./{program}"  # a program shipped in the job's folder
        try:
            self.program = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=child_fds,
                preexec_fn=_die_with_parent,
            )
        except FileNotFoundError:
            raise ExecutableFailed(
                f"{job.name}: cannot start {program!r}: not found in the job's folder "
                f"{os.getcwd()} nor on PATH (is it in the job's DEPENDENCIES?)"
            ) from None
        except PermissionError:
            raise ExecutableFailed(
                f"{job.name}: cannot start {program!r}: permission denied (make it "
                f"executable: chmod +x)"
            ) from None
        finally:
            for fd in child_fds:
                os.close(fd)
        self.ahead = self._ahead_limit(read_ends)
        batching = self.ahead > 1 and len(job.outputs) == 1 and _passes_bytes(job.outputs[0])
        # a batching bridge reads the output's descriptor itself: no buffer may hide bytes
        buffering = 0 if batching else 1 << 16
        self.readers = [os.fdopen(fd, "rb", buffering=buffering) for fd in read_ends]
        if batching:
            self._out_size = int(job.outputs[0].block_size)  # type: ignore[attr-defined]
            self.host.round_batch = self.run_batch
            self.host.watch_program(read_ends[0])
            # the input's blocks only ever go into the program's pipe: no copies of their own
            self.host.inputs[0].views = True
            feed = self._direct_feed()
            if feed is not None:
                self.host.inputs[0].feed = feed
        threading.Thread(target=self._relay_stderr, name="exe-stderr", daemon=True).start()
        threading.Thread(target=self._watch_exit, name="exe-exit", daemon=True).start()

    def _direct_feed(self) -> _DirectFeed | None:
        """The blocks of a plain BytesPipe input go from the socket into the program's pipe
        without passing through this process (splice), if the pipe can hold them as pages:
        blocks by the runs they travel in (framing.run_length), or one by one."""
        pipe = self.job.inputs[0]
        size = int(pipe.block_size)  # type: ignore[attr-defined]
        plain = type(pipe).write_wrapper is BasePipe.write_wrapper
        if not plain or not _passes_bytes(pipe):
            return None
        if pipe.GAP_POLICY == "previous" or (
            pipe.GAP_POLICY == "dummy" and pipe.dummy_payload() is None
        ):
            return None  # it repeats the last payload, which a moved block does not leave
        fd = self.writers[0].fileno()
        # a moved block takes a slot per page it touches (and one for a head): the pipe has
        # one slot per page of its capacity
        pages = fcntl.fcntl(fd, _F_GETPIPE_SZ) // _PAGE
        slots_per_block = -(-size // _PAGE) + 2
        limit = min(self.ahead, pages // slots_per_block)
        return _DirectFeed(self, size, limit) if limit >= 2 else None

    def exited(self) -> bool:
        return self.program is not None and self.program.poll() is not None

    def _relay_stderr(self) -> None:
        assert self.program is not None and self.program.stderr is not None
        for raw in self.program.stderr:
            line = raw.decode(errors="replace")
            self.stderr_tail.append(line.rstrip("\n"))
            sys.stderr.write(line)
        self._stderr_done.set()

    def _watch_exit(self) -> None:
        assert self.program is not None
        self.program.wait()
        # the program is gone: once what it wrote is read, reads must see end-of-file
        for fd in self._spare_writers:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._spare_writers.clear()

    # -- rounds ------------------------------------------------------------------------------
    def _ahead_limit(self, read_ends: list[int]) -> int:
        """How many blocks the program may be given before its output of the first is read.

        Only for one plain fixed-size input and fixed-size outputs: then k blocks in flight
        fit in the pipes (enlarged to PIPE_BYTES) both ways, so neither side ever blocks on
        the other, and a round's output is still the one of its own input.
        """
        job = self.job
        if self.host is None or len(job.inputs) != 1 or not job.outputs or job.HEAD:
            return 1
        pipe = job.inputs[0]
        size = getattr(pipe, "block_size", None)
        plain = type(pipe).write_wrapper is BasePipe.write_wrapper  # the payload, as is
        if pipe.ASYNC or pipe.block_count != 1 or not isinstance(size, int) or not plain:
            return 1
        if not all(isinstance(getattr(p, "block_size", None), int) for p in job.outputs):
            return 1
        capacity = min(
            _grow_pipe(self.writers[0].fileno()),
            *(_grow_pipe(fd) for fd in read_ends),
        )
        largest_out = max(int(p.block_size) for p in job.outputs)  # type: ignore[attr-defined]
        return max(1, min(AHEAD_MAX, capacity // max(size, largest_out) - 1))

    def _feed_ahead(self, r: int) -> None:
        """Give the program the blocks already received after round ``r`` (up to ``ahead``),
        so that it works on them while this host waits for and sends on its outputs."""
        link = self.host.inputs[0]
        queue = link.queue
        stream = self.writers[0]
        position = self.written - r  # queue[0] is round r + 1
        limit = r - 1 + self.ahead
        while self.written < limit and 0 <= position < len(queue):
            sqn, kind, flags, payload = queue[position]
            if sqn != self.written + 1 or kind != _DATA or flags:
                return  # a gap, a skip or a flagged block: given in its own round
            stream.write(payload)  # a fixed-size block's bytes are its wire payload
            self.written = sqn
            position += 1

    def run_batch(
        self, link: Any, done: int, most: int, byte_budget: int, pipe_id: int
    ) -> tuple[list[Any] | Spliced, int]:
        """Several rounds at once, for the job host's hot loop (one fixed-size BytesPipe-like
        input and output, blocks fed ahead): round ``done + 1`` is ``link.queue[0]``.

        Gives the program every plain block queued after those it has, in one write (at most
        ``ahead`` in flight), then reads the outputs of the next rounds: one, waited for, and
        every further one already written, up to ``most`` blocks and ``byte_budget`` bytes.
        Returns them framed for pipe ``pipe_id`` (see _read_frames) and how many rounds they
        are: 0 when the program's output ended (the round-by-round path then reports how),
        NOT_YET when it has written nothing yet.
        """
        queue = link.queue
        # rounds the program never saw (skipped upstream, or done by an earlier instance of
        # this job before a restart) are owed nothing
        self.written = max(self.written, done)
        position = self.written - done  # queue[position] would be the next block to give
        limit = done + self.ahead
        blocks: list[bytes] = []
        expected = self.written + 1
        while expected <= limit and position < len(queue):
            sqn, kind, flags, payload = queue[position]
            if sqn != expected or kind != _DATA or flags:
                break  # a gap, a skip or a flagged block: given in its own round
            blocks.append(payload)
            expected += 1
            position += 1
        if blocks:
            try:
                self.writers[0].write_all(blocks)
            except BrokenPipeError:
                self._broken(0)
            self.written = expected - 1
        owed = max(1, min(self.written - done, most, byte_budget // self._out_size))
        # a big block keeps the program busy for a while: do not wait for it idle
        busy = self._out_size >= RUN_BLOCK_MAX or _more_to_give(link)
        return self._read_frames(owed, done + 1, pipe_id, busy)

    def _read_frames(
        self, owed: int, first: int, pipe_id: int, busy: bool = False
    ) -> tuple[list[Any] | Spliced, int]:
        """Every whole output block already waiting (at most ``owed``), or else the one being
        written, as the frames of rounds ``first``, ``first + 1``, ...; NOT_YET rounds when the
        program has written nothing yet and the job host is ``busy`` (it has input to give the
        program meanwhile: it comes back when the program has written).

        Blocks go in RUN frames (one header for up to run_length of them; blocks of 256 KiB
        or more in a DATA frame each). Frames of 16 KiB or more are to go straight from the
        program's pipe into the socket when the output may take them now: they come as a
        Spliced (see _spliced). Otherwise the blocks are read in one piece, which the
        frames share: a header of their own and a view of their blocks (os.read does not zero
        its buffer first, as a bytearray would).
        """
        fd = self.readers[0].fileno()
        size = self._out_size
        waiting = bytes_waiting(fd)
        if not waiting and busy and not _at_end(fd):
            return [], NOT_YET  # the job host watches the pipe meanwhile (watch_program)
        count = max(1, min(owed, waiting // size))
        per_frame = run_length(size)
        if (
            pagestore.AVAILABLE
            and waiting >= size
            and min(count, per_frame) * size >= SPLICE_MIN
            and self.host.outputs[0].may_splice()
        ):
            return _spliced(fd, count, size, first, pipe_id, per_frame), count
        data = read_exactly(fd, count * size)
        if len(data) < count * size:  # the output ended: frame the whole blocks before its end
            if len(data) % size:
                pipe = self.job.outputs[0].id
                self._ended_early(
                    f"inside a block of pipe {pipe} ({len(data) % size} of {size} bytes written)"
                )
            count = len(data) // size
        return _frames(data, count, size, first, pipe_id, per_frame), count

    def process(self, *values: Any) -> Any:
        """One round: the inputs' blocks to the program, one block per output back."""
        job = self.job
        heads = job.HEAD
        if self.ahead > 1:
            r = self.host.round + 1  # the job host counts the round after run() returns
            try:
                if self.written < r:
                    self._encoders[0](self.writers[0], values[0])
                    self.written = r
                self._feed_ahead(r)
                self.writers[0].flush()
            except BrokenPipeError:
                self._broken(0)
            values = ()
        for index, value in enumerate(values):
            counted = self._counts[index] > 1
            blocks = value if counted else (value,)
            encode = self._encoders[index]
            stream = self.writers[index]
            in_heads = job.in_heads[index] if heads else None
            try:
                for number, block in enumerate(blocks):
                    if block is None:
                        continue  # nothing arrived for it (its producer sent nothing)
                    if heads:
                        head = in_heads[number] if counted else in_heads  # type: ignore[index]
                        stream.write(bytes((int(head),)))
                    encode(stream, block)
                stream.flush()
            except BrokenPipeError:
                self._broken(index)
        if not self.readers:
            return None
        results = self._read_round()
        if results is None:
            job.finish()  # it exited cleanly: its stream ends here
            return None
        return tuple(results) if len(results) > 1 else results[0]

    def produce(self) -> Iterator[Any]:
        """A source program: its blocks until it exits."""
        while True:
            results = self._read_round()
            if results is None:
                return
            yield tuple(results) if len(results) > 1 else results[0]

    def _read_round(self) -> list[Any] | None:
        """One block from each output (after its head byte with HEAD); None once the program
        ended cleanly."""
        job = self.job
        results = []
        for index, reader in enumerate(self.readers):
            if job.HEAD:
                head = reader.read(1)
                if not head:
                    self._ended_early()
                    return None
                job.out_heads[index] = head[0]
            block = self._decoders[index](reader)
            if block is _EOF:
                self._ended_early()
                return None
            results.append(block)
        return results

    def _broken(self, index: int) -> NoReturn:
        """The program stopped reading input ``index``: report how it ended."""
        pipe = self.job.inputs[index].id
        self._ended_early(f"while it was given a block of pipe {pipe}")
        raise ExecutableFailed(f"{self.job.name}: the program does not read its input pipe {pipe}")

    def _ended_early(self, when: str = "") -> None:
        """The program's output ended: fine if it exited with status 0, a failure otherwise."""
        assert self.program is not None
        try:
            status = self.program.wait(timeout=EXIT_GRACE)
        except subprocess.TimeoutExpired:
            raise ExecutableFailed(
                f"{self.job.name}: the program stopped using its pipes but did not exit"
            ) from None
        if status == 0 and not when:
            return
        self._stderr_done.wait(1.0)
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        tail = "\n".join(self.stderr_tail)
        raise ExecutableFailed(
            f"{self.job.name}: the program {self.command[0]!r} {how}"
            + (f" {when}" if when else "")
            + (f"; the last lines of its stderr:\n{tail}" if tail else " (it wrote no stderr)")
        )

    # -- the end -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Close the inputs (end-of-file for the program), let it end, then make sure."""
        if self.host is not None and self.host.inputs:
            self.host.inputs[0].feed = None  # before its descriptor is closed (and reused)
        if self.host is not None and self.host.round_batch is not None:
            self.host.watch_program(None)
        for writer in self.writers:
            with contextlib.suppress(OSError):
                writer.close()
        self.writers = []
        program = self.program
        if program is not None and program.poll() is None:
            try:
                program.wait(timeout=EXIT_GRACE)
            except subprocess.TimeoutExpired:
                program.terminate()
                try:
                    program.wait(timeout=EXIT_GRACE)
                except subprocess.TimeoutExpired:
                    program.kill()
                    program.wait()
        for reader in self.readers:
            with contextlib.suppress(OSError):
                reader.close()
        self.readers = []
        for fd in self._spare_writers:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._spare_writers = []
        shutil.rmtree(FIFO_FOLDER, ignore_errors=True)


def _passes_bytes(pipe: BasePipe) -> bool:
    """Whether a block of ``pipe`` is exactly the bytes a program writes: a fixed size, and
    BytesPipe's own codec and stream format (so nothing needs decoding and encoding again)."""
    kind = type(pipe)
    return (
        isinstance(pipe, BytesPipe)
        and kind.pack is BytesPipe.pack
        and kind.unpack is BytesPipe.unpack
        and kind.read is BasePipe.read
        and kind.write is BasePipe.write
        and kind.read_wrapper is BasePipe.read_wrapper
        and not pipe.ASYNC
        and pipe.block_count == 1
    )


def _frames(
    data: bytes, count: int, size: int, first: int, pipe_id: int, per_frame: int
) -> list[Any]:
    """Headers and views of ``data``'s ``count`` blocks, alternately (see _frame_heads)."""
    return frame_parts(*_frame_heads(count, size, first, pipe_id, per_frame), data)


def _spliced(fd: int, count: int, size: int, first: int, pipe_id: int, per_frame: int) -> Spliced:
    """The frames of the ``count`` blocks waiting in the program's output pipe ``fd``, to go
    from there straight into the output's socket (the job host calls OutputLink.send_spliced,
    outside user code).

    Reading the program's pipe would hold its lock while 64 KiB blocks are copied out, and
    the program, writing its next one, would spin on it (measured: half the C relay's time).
    """
    return Spliced(fd, *_frame_heads(count, size, first, pipe_id, per_frame))


def _frame_heads(
    count: int, size: int, first: int, pipe_id: int, per_frame: int
) -> tuple[list[bytes], list[int]]:
    """The headers and payload lengths of ``count`` blocks' frames from round ``first`` on:
    a DATA frame each, or RUN frames of up to ``per_frame`` blocks."""
    pack = HEADER.pack
    if per_frame == 1 or count == 1:
        return [pack(_DATA, 0, pipe_id, first + k, size) for k in range(count)], [size] * count
    headers, lengths = [], []
    for index in range(0, count, per_frame):
        blocks = min(per_frame, count - index)
        headers.append(pack(_RUN, blocks - 1, pipe_id, first + index, blocks * size))
        lengths.append(blocks * size)
    return headers, lengths


def _more_to_give(link: Any) -> bool:
    """Whether the input link could move more blocks into the program now (then waiting for
    the program's output would leave them, and the program, waiting)."""
    feed, sock = link.feed, link.sock
    if feed is None or sock is None or link.held or feed.room(link.next_sqn - 1) <= 0:
        return False
    return bytes_waiting(sock.fileno()) > 0


def _at_end(fd: int) -> bool:
    """Whether a pipe with nothing in it is readable all the same: its writers are gone."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _grow_pipe(fd: int) -> int:
    """Enlarge a pipe's buffer towards PIPE_BYTES; its capacity in bytes afterwards."""
    try:
        return fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        return fcntl.fcntl(fd, _F_GETPIPE_SZ)  # not allowed more: keep what it has


def _die_with_parent() -> None:
    # the program must not outlive its job host (a failover SIGKILLs the host)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
