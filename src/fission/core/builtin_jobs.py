"""The built-in jobs: ready-made sources, sinks and helpers (importable from fission.core.jobs).

=================  ========  =====================================================================
Job                Where     What it does
=================  ========  =====================================================================
CSVSinkJob         client    one CSV file per sink: a header, then one row per round, flushed
InteractiveJob     client    yields each line typed on the client's terminal, or written into a
                             named pipe when no terminal is attached
LoggingJob         anywhere  base class adding a log output: timestamps, delay and CPU per round
LoggingSinkJob     client    writes the rows of LoggingJobs into one CSV
ClockJob           client    yields 1 at a fixed rate (drives sources in lockstep)
SourceJob          anywhere  counts start, start+step, ... with a pause between values
ForwardingJob      anywhere  n inputs -> the same n values on n outputs
DistributingJob    anywhere  one input -> the same value on every output
=================  ========  =====================================================================

Every path a job is given is relative to the job's own folder (``<run folder>/<job id>/``)
unless it is absolute. Nothing here needs a terminal emulator or a third-party package.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import os
import resource
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from fission.core.errors import JobError
from fission.core.jobs import LocalJob, PythonJob
from fission.core.pipes import BasePipe

__all__ = [
    "CSVSinkJob",
    "ClockJob",
    "DistributingJob",
    "ForwardingJob",
    "InteractiveJob",
    "LoggingJob",
    "LoggingSinkJob",
    "SourceJob",
]


class CSVSinkJob(LocalJob, PythonJob):
    """A sink on the client writing one CSV row per round (one column per input).

    ``CSVSinkJob(path="output.csv", inputs=[...], col_pattern="pipe_{pipe.id}")``: the header
    names each column with ``col_pattern.format(pipe=pipe, job=self)``. A value is written with
    ``str()``; an input without a value in a round (a skipped round) is an empty cell. Every row
    is flushed at once, so the file is complete up to the last round even after Ctrl+C.
    """

    def __init__(
        self,
        path: str = "output.csv",
        inputs: Sequence[BasePipe] | None = None,
        col_pattern: str = "pipe_{pipe.id}",
        outputs: Sequence[BasePipe] | None = None,
    ) -> None:
        super().__init__(inputs=inputs, outputs=outputs)
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise JobError(
                f"{self.declared_at}: CSVSinkJob: path must be a file name, got {path!r}"
            )
        self.path = str(path)
        self.col_pattern = col_pattern
        self._file: IO[str] | None = None
        self._writer: Any = None

    def setup(self, *args: Any, **kwargs: Any) -> None:
        path = Path(self.path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in teardown
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow([self.col_pattern.format(pipe=p, job=self) for p in self.inputs])
        self._file.flush()

    def run(self, *values: Any) -> None:
        self._writer.writerow(["" if v is None else str(v) for v in values])
        self._file.flush()  # type: ignore[union-attr]

    def teardown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class InteractiveJob(LocalJob, PythonJob):
    """A source on the client: every line typed becomes one block on all its outputs.

    Where the lines come from, in this order:

    * ``path=...`` given: a named pipe (FIFO) at that path, created if missing;
    * the client's terminal, when config.py was loaded from one (``terminal=False`` turns this
      off);
    * otherwise a named pipe ``input.fifo`` in the job's folder.

    Write into the named pipe from any shell: ``echo '+' > <path>``. Writers may come and go;
    the job keeps reading until the run ends. On a terminal, Ctrl+D ends the stream. Lines
    arrive without their line break. Usually feeds an optional pipe (OptionalPicklePipe).
    """

    def __init__(
        self,
        outputs: Sequence[BasePipe] | None = None,
        path: str | None = None,
        terminal: bool = True,
        inputs: Sequence[BasePipe] | None = None,
    ) -> None:
        super().__init__(inputs=inputs, outputs=outputs)
        self.path = path
        # The client's terminal, remembered while config.py is loaded on the client: the job's
        # own process has no controlling terminal, but may open the client's by name.
        self.terminal: str | None = None
        if terminal and path is None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if sys.stdin.isatty():
                    self.terminal = os.ttyname(sys.stdin.fileno())
        self.source = ""
        self._fd = -1

    def setup(self, *args: Any, **kwargs: Any) -> None:
        if self.terminal:
            with contextlib.suppress(OSError):
                self._fd = os.open(self.terminal, os.O_RDONLY | os.O_NOCTTY)
                self.source = self.terminal
                print(f"reading lines typed on {self.terminal}", flush=True)
                return
        fifo = Path(self.path or "input.fifo").expanduser().absolute()
        fifo.parent.mkdir(parents=True, exist_ok=True)
        if fifo.exists() and not stat.S_ISFIFO(fifo.stat().st_mode):
            raise JobError(f"{self.name}: {fifo} exists and is not a named pipe")
        if not fifo.exists():
            os.mkfifo(fifo, 0o600)
        # Opened for reading and writing: the job holds a writer itself, so writers that come
        # and go (each `echo`) never make it see end-of-file.
        self._fd = os.open(fifo, os.O_RDWR)
        self.source = str(fifo)
        print(f"type lines into {fifo} (e.g. echo hello > {fifo})", flush=True)

    def run(self) -> Iterator[str]:
        pending = b""
        while True:
            data = os.read(self._fd, 4096)  # retried by Python after the host's timer signals
            if not data:  # end of file: Ctrl+D on the terminal
                return
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                text = line.decode(errors="replace").rstrip("\r")
                print(f"read {text!r}", flush=True)
                yield text

    def teardown(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


class LoggingJob(PythonJob):
    """Base class: a job whose last output carries one log row per round.

    Subclass it and write ``run_job`` (and optionally ``init_job``, which receives the
    constructor's other arguments, and ``setup_job``) instead of ``run`` / ``__init__`` /
    ``setup``; give the job its log pipe as ``logging_output=PicklePipe(...)``. Each round the
    log output carries a dict with ``job``, ``pid``, ``round``, ``time_in`` and ``time_out``
    (Unix time around the call), ``delay`` (seconds in ``run_job``), ``cpu`` (CPU seconds of the
    call), ``cpu_percent`` (cpu/delay) and ``maxrss_kib`` (peak memory of the process). A
    ``run_job`` written as a generator makes a logged source.
    """

    def __init__(
        self,
        *args: Any,
        inputs: Sequence[BasePipe] | None = None,
        outputs: Sequence[BasePipe] | None = None,
        logging_output: BasePipe | None = None,
        **kwargs: Any,
    ) -> None:
        if logging_output is None:
            raise JobError(
                f"{type(self).__name__}: a LoggingJob needs logging_output=<pipe> for its log "
                f"rows, e.g. logging_output=PicklePipe(901)"
            )
        super().__init__(inputs=inputs, outputs=[*(outputs or []), logging_output])
        self.logging_output = logging_output
        self._round = 0
        if inspect.isgeneratorfunction(self.run_job):
            self.run = self._run_generator  # type: ignore[method-assign]
        self.init_job(*args, **kwargs)

    def init_job(self, *args: Any, **kwargs: Any) -> None:
        """Take the job's own constructor arguments (called by ``__init__``, on the client)."""
        if args or kwargs:
            raise JobError(
                f"{self.declared_at}: {type(self).__name__} got arguments "
                f"{', '.join([*map(repr, args), *kwargs])} but defines no init_job to take them"
            )

    def setup_job(self) -> None:
        """Prepare the job (called by ``setup``)."""

    def run_job(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define run_job()")

    def setup(self, *args: Any, **kwargs: Any) -> None:
        self.setup_job()

    def _row(self, time_in: float, cpu_in: float) -> dict[str, Any]:
        time_out = time.time()
        cpu = time.process_time() - cpu_in
        delay = time_out - time_in
        self._round += 1
        return {
            "job": self.name,
            "pid": os.getpid(),
            "round": self._round,
            "time_in": time_in,
            "time_out": time_out,
            "delay": delay,
            "cpu": cpu,
            "cpu_percent": 100.0 * cpu / delay if delay > 0 else 0.0,
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }

    def _with_log(self, result: Any, row: dict[str, Any]) -> tuple[Any, ...]:
        # the usual return conventions for the job's own outputs, then the log row
        count = len(self.outputs) - 1
        if result is None:
            return (*((None,) * count), row)
        if type(result) is tuple:
            return (*result, row)  # one element per output (the host checks the length)
        return (*((result,) * count), row)

    def run(self, *inputs: Any) -> Any:
        time_in, cpu_in = time.time(), time.process_time()
        result = self.run_job(*inputs)
        return self._with_log(result, self._row(time_in, cpu_in))

    def _run_generator(self) -> Iterator[Any]:
        values = self.run_job()
        while True:
            time_in, cpu_in = time.time(), time.process_time()
            try:
                result = next(values)
            except StopIteration:
                return
            yield self._with_log(result, self._row(time_in, cpu_in))


class LoggingSinkJob(LocalJob, PythonJob):
    """Writes the log rows of LoggingJobs (one input each) to one CSV on the client."""

    COLUMNS = (
        "job",
        "pid",
        "round",
        "time_in",
        "time_out",
        "delay",
        "cpu",
        "cpu_percent",
        "maxrss_kib",
    )

    def __init__(self, path: str = "log.csv", inputs: Sequence[BasePipe] | None = None) -> None:
        super().__init__(inputs=inputs)
        self.path = str(path)
        self._file: IO[str] | None = None
        self._writer: Any = None

    def setup(self, *args: Any, **kwargs: Any) -> None:
        path = Path(self.path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed in teardown
        self._writer = csv.DictWriter(
            self._file, self.COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        self._writer.writeheader()
        self._file.flush()

    def run(self, *rows: Any) -> None:
        for row in rows:
            if isinstance(row, dict):
                self._writer.writerow(row)
        self._file.flush()  # type: ignore[union-attr]

    def teardown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ClockJob(LocalJob, PythonJob):
    """A source on the client yielding ``1`` every ``clock_interval`` seconds.

    Ticks follow a fixed schedule (start + k * interval), so a slow round does not shift the
    ones after it. ``count`` ends the stream after that many ticks (default: never).
    """

    def __init__(
        self,
        outputs: Sequence[BasePipe] | None = None,
        clock_interval: float = 0.04,
        count: int | None = None,
    ) -> None:
        super().__init__(outputs=outputs)
        if not isinstance(clock_interval, (int, float)) or clock_interval <= 0:
            raise JobError(
                f"{self.declared_at}: ClockJob: clock_interval must be a positive number of "
                f"seconds, got {clock_interval!r}"
            )
        self.clock_interval = float(clock_interval)
        self.count = count

    def run(self) -> Iterator[int]:
        start = time.monotonic()
        tick = 0
        while self.count is None or tick < self.count:
            delay = start + tick * self.clock_interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            tick += 1
            yield 1


class SourceJob(PythonJob):
    """Counts ``start``, ``start + step``, ... pausing ``delay`` seconds between values.

    ``count`` ends the stream after that many values (default: never).
    """

    def __init__(
        self,
        outputs: Sequence[BasePipe] | None = None,
        start: int | float = 1,
        step: int | float = 1,
        delay: float = 1.0,
        count: int | None = None,
    ) -> None:
        super().__init__(outputs=outputs)
        self.start = start
        self.step = step
        self.delay = delay
        self.count = count

    def run(self) -> Iterator[int | float]:
        value = self.start
        produced = 0
        while self.count is None or produced < self.count:
            yield value
            produced += 1
            value += self.step
            if self.delay and (self.count is None or produced < self.count):
                time.sleep(self.delay)


class ForwardingJob(PythonJob):
    """Passes input *i* on to output *i* unchanged (as many outputs as inputs)."""

    def run(self, *values: Any) -> tuple[Any, ...]:
        return values


class DistributingJob(PythonJob):
    """Sends its one input's value to every output."""

    def run(self, value: Any) -> tuple[Any, ...]:
        return (value,) * len(self.outputs)
