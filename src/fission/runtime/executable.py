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
import io
import json
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fission.core.jobs import ExecutableJob
from fission.core.pipes import BasePipe, BytesPipe, JSONPipe, PicklePipe
from fission.runtime.host import JobFailed

__all__ = ["ExecutableBridge", "ExecutableFailed", "attach"]

#: The folder, inside the job's working folder, holding the FIFOs.
FIFO_FOLDER = ".fission-fifo"
#: How long a program may take to end after its inputs were closed.
EXIT_GRACE = 2.0
#: Lines of the program's stderr kept for the failure report.
STDERR_TAIL = 20

_EOF = object()


class ExecutableFailed(JobFailed):
    """The program could not start, ended too early, or broke a pipe's format."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "")


def attach(job: ExecutableJob) -> ExecutableBridge:
    """Make the job's setup/run/teardown those of a bridge to its program."""
    bridge = ExecutableBridge(job)
    job.setup = bridge.start  # type: ignore[method-assign]
    job.run = bridge.produce if not job.inputs else bridge.process  # type: ignore[method-assign]
    job.teardown = bridge.stop  # type: ignore[method-assign]
    return bridge


def block_writer(pipe: BasePipe) -> Callable[[Any], bytes]:
    """The bytes a program reads for one block of ``pipe``."""
    pack = pipe.encoder()
    if isinstance(pipe, JSONPipe):
        return lambda value: pack(value) + b"\n"
    return pack


def block_reader(pipe: BasePipe, job: ExecutableJob) -> Callable[[io.BufferedReader], Any]:
    """Reads one block of ``pipe`` from a program's output; ``_EOF`` at a clean end."""
    if isinstance(pipe, BytesPipe):
        size = int(pipe.block_size)
        unpack = pipe.decoder()  # the job host packs the value again for the wire

        def read_bytes(stream: io.BufferedReader) -> Any:
            data = stream.read(size)
            if not data:
                return _EOF
            if len(data) < size:
                raise ExecutableFailed(
                    f"{job.name}: the program ended in the middle of a block of pipe {pipe.id} "
                    f"({len(data)} of {size} bytes)"
                )
            return unpack(data)

        return read_bytes
    if isinstance(pipe, JSONPipe):

        def read_json(stream: io.BufferedReader) -> Any:
            line = stream.readline()
            if not line:
                return _EOF
            try:
                return json.loads(line)
            except ValueError as exc:
                raise ExecutableFailed(
                    f"{job.name}: the program wrote a line that is not JSON to pipe {pipe.id}: "
                    f"{line[:80]!r} ({exc})"
                ) from None

        return read_json
    if isinstance(pipe, PicklePipe):

        def read_pickle(stream: io.BufferedReader) -> Any:
            try:
                return pickle.load(stream)
            except EOFError:
                return _EOF
            except Exception as exc:
                raise ExecutableFailed(
                    f"{job.name}: the program wrote something that is not a pickle to pipe "
                    f"{pipe.id}: {exc}"
                ) from None

        return read_pickle
    custom = getattr(pipe, "read_wrapper", None)
    if callable(custom):
        return lambda stream: _custom_read(custom, stream)
    raise ExecutableFailed(
        f"{job.name}: pipe {pipe.id} is a {type(pipe).__name__}, which does not say how to cut "
        f"a program's output into blocks; use a BytesPipe, JSONPipe or PicklePipe, or give the "
        f"pipe a read_wrapper(stream) method"
    )


def _custom_read(read_wrapper: Callable[[Any], Any], stream: io.BufferedReader) -> Any:
    value = read_wrapper(stream)
    return _EOF if value is None else value


class ExecutableBridge:
    """One executable job's program and its pipes, driven by the job host."""

    def __init__(self, job: ExecutableJob) -> None:
        self.job = job
        self.program: subprocess.Popen[bytes] | None = None
        self.writers: list[int] = []  # per input: our write end
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
            self.writers.append(write_end)
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
        self.readers = [os.fdopen(fd, "rb", buffering=1 << 16) for fd in read_ends]
        threading.Thread(target=self._relay_stderr, name="exe-stderr", daemon=True).start()
        threading.Thread(target=self._watch_exit, name="exe-exit", daemon=True).start()

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
    def process(self, *values: Any) -> Any:
        """One round: the inputs' blocks to the program, one block per output back."""
        for index, value in enumerate(values):
            blocks = value if self._counts[index] > 1 else (value,)
            encode = self._encoders[index]
            for block in blocks:
                if block is None:
                    continue  # nothing arrived for it (the producer sent nothing that round)
                self._write(index, encode(block))
        if not self.readers:
            return None
        results = []
        for index in range(len(self.readers)):
            block = self._decoders[index](self.readers[index])
            if block is _EOF:
                self._ended_early()
                self.job.finish()  # it exited cleanly: its stream ends here
                return None
            results.append(block)
        return tuple(results) if len(results) > 1 else results[0]

    def produce(self) -> Iterator[Any]:
        """A source program: its blocks until it exits."""
        while True:
            results = []
            for index in range(len(self.readers)):
                block = self._decoders[index](self.readers[index])
                if block is _EOF:
                    self._ended_early()
                    return
                results.append(block)
            yield tuple(results) if len(results) > 1 else results[0]

    def _write(self, index: int, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.writers[index], view)
                view = view[written:]
        except BrokenPipeError:
            self._ended_early(f"while it was given a block of pipe {self.job.inputs[index].id}")
            raise ExecutableFailed(
                f"{self.job.name}: the program closed its input pipe {self.job.inputs[index].id}"
            ) from None

    def _ended_early(self, when: str = "") -> None:
        """The program's output ended: fine if it exited with status 0, a failure otherwise."""
        assert self.program is not None
        try:
            status = self.program.wait(timeout=EXIT_GRACE)
        except subprocess.TimeoutExpired:
            raise ExecutableFailed(
                f"{self.job.name}: the program closed its output but did not exit"
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
        for fd in self.writers:
            with contextlib.suppress(OSError):
                os.close(fd)
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


def _die_with_parent() -> None:
    # the program must not outlive its job host (a failover SIGKILLs the host)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
