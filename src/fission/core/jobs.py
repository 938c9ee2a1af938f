"""Jobs: the long-running programs of a network (import path kept from the original).

Subclass :class:`PythonJob` and override ``run``. The lifecycle, in call order, on the machine
that runs the job (a server, or this machine under ``simulate``):

1. ``__init__`` runs on the client while config.py is loaded: keep only picklable state there.
2. ``setup()`` runs once in the job's own process, with the job's folder as working directory,
   before any data flows.
3. ``run(*inputs)`` runs once per round. Inputs arrive as positional arguments in the order of
   ``inputs=[...]`` in config.py (``*args`` works); an input whose pipe has ``BLOCK_COUNT = n``
   arrives as a list of ``n`` values. The return value goes to the outputs:

   * ``None``: no output this round;
   * a tuple: element *i* goes to output *i* (its length must equal the number of outputs;
     to send a tuple as one value, wrap it: ``return (my_tuple,)``);
   * anything else: the same value to every output.

   A job without inputs (a source) may write ``run`` as a generator: each ``yield`` is one
   round, and the generator returning ends the stream. A plain-function source is called again
   and again.
4. ``self.finish()`` inside ``run`` makes the current round the last one: end-of-stream flows
   downstream and the job stops after its outputs were acknowledged.
5. ``teardown()`` runs once when the job stops for any reason other than being killed.

``self.id`` is the job's number: its position in ``JOBS`` counting from 1.

Heads (``HEAD = True``): before each ``run``, ``self.in_heads`` holds one :class:`Head` per input
(a list of heads for ``BLOCK_COUNT > 1``), and ``self.head`` is ``self.head_reduce()`` (the OR
of all of them unless overridden). ``self.out_heads`` starts each round as ``[None] * outputs``;
set an element to give that output its own head, otherwise ``self.head`` goes out. See
:mod:`fission.core.head` for the bits.

Class attributes reach the job's process unchanged (the job's process loads the same
config.py), and so do attributes ``__init__`` sets: there is no need to copy them into the
instance as the original required.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from fission.core.declaration import UNKNOWN, Location, current_scope
from fission.core.errors import JobError
from fission.core.head import Head, reduce_or
from fission.core.pipes import BasePipe

__all__ = [
    "BaseJob",
    "CSVSinkJob",
    "ClockJob",
    "DistributingJob",
    "DynamicExecutableJob",
    "DynamicMARVELOJob",
    "ExecutableJob",
    "ForwardingJob",
    "Head",
    "InteractiveJob",
    "LocalJob",
    "LoggingJob",
    "LoggingSinkJob",
    "MARVELOJob",
    "PythonJob",
    "SourceJob",
]


def _declaration_site() -> Location:
    # __new__ is entered straight from the user's call (type.__call__ is C code), so the frame
    # two levels up is the line in config.py (or wherever the job was created).
    frame = sys._getframe(2)
    scope = current_scope()
    if scope is not None and scope.config_file:
        probe = frame
        while probe is not None:
            if probe.f_code.co_filename == scope.config_file:
                return Location(probe.f_code.co_filename, probe.f_lineno)
            probe = probe.f_back  # type: ignore[assignment]
    return Location(frame.f_code.co_filename, frame.f_lineno) if frame else UNKNOWN


class BaseJob:
    """Common base of every job: wiring, identity and placement attributes."""

    #: Address of the server this job should run on when it is alive and has room.
    DEFAULT_NODE: ClassVar[str | None] = None
    #: Node groups the job may run on, in priority order ("ALL" = any server).
    GROUPS: ClassVar[str | Sequence[str]] = "ALL"
    #: Whether the job reads and writes block heads (``self.in_heads``, ``self.head``, ...).
    HEAD: ClassVar[bool] = False
    #: Extra modules or folders this job needs on its server.
    DEPENDENCIES: ClassVar[Any] = None
    #: Kept for compatibility with the original; queues here are always bounded.
    MAX_QUEUE: ClassVar[int] = 0

    #: Heads of the current round's inputs (HEAD jobs only).
    in_heads: list[Any]
    #: The head that goes to every output without its own entry in ``out_heads``.
    head: Head
    #: Per-output heads of the current round; None = use ``self.head``.
    out_heads: list[Head | int | None]

    id: int | None
    inputs: list[BasePipe]
    outputs: list[BasePipe]
    declared_at: Location

    def __new__(cls, *args: Any, **kwargs: Any) -> BaseJob:
        job = super().__new__(cls)
        job.declared_at = _declaration_site()
        job.id = None
        job.inputs = []
        job.outputs = []
        job._finish_requested = False
        job.in_heads = []
        job.head = Head()
        job.out_heads = []
        scope = current_scope()
        if scope is not None:
            scope.jobs.append(job)
        return job

    def __init__(
        self,
        inputs: Sequence[BasePipe] | None = None,
        outputs: Sequence[BasePipe] | None = None,
    ) -> None:
        self.inputs = self._check_pipes("inputs", inputs)
        self.outputs = self._check_pipes("outputs", outputs)

    def _check_pipes(self, role: str, pipes: Sequence[BasePipe] | None) -> list[BasePipe]:
        if pipes is None:
            return []
        if isinstance(pipes, BasePipe):
            pipes = [pipes]
        if not isinstance(pipes, (list, tuple)):
            raise JobError(
                f"{self.declared_at}: {type(self).__name__}: {role} must be a list of pipes, "
                f"got {type(pipes).__name__}"
            )
        for pipe in pipes:
            if not isinstance(pipe, BasePipe):
                raise JobError(
                    f"{self.declared_at}: {type(self).__name__}: {role} must contain pipes "
                    f"such as PicklePipe(101), got {pipe!r}"
                )
        return list(pipes)

    # -- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Display name, e.g. ``JoinJob 4``."""
        return f"{type(self).__name__} {self.id}" if self.id is not None else type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def __str__(self) -> str:
        return self.name

    # -- roles ------------------------------------------------------------------------------
    def is_source(self) -> bool:
        return not self.inputs and bool(self.outputs)

    def is_sink(self) -> bool:
        return bool(self.inputs) and not self.outputs

    def is_connector(self) -> bool:
        return bool(self.inputs) and bool(self.outputs)

    def is_async(self) -> bool:
        """All inputs optional (true for sources, as in the original): run like a source."""
        return all(pipe.ASYNC for pipe in self.inputs)

    @property
    def is_local(self) -> bool:
        """Local jobs always run on the client."""
        return isinstance(self, LocalJob)

    # -- lifecycle (overridden by PythonJob subclasses) ---------------------------------------
    def setup(self, *args: Any, **kwargs: Any) -> None:
        """Prepare the job in its own process, before data flows."""

    def teardown(self) -> None:
        """Release what ``setup`` acquired; runs when the job stops."""

    def run(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define run()")

    def head_reduce(self) -> Head:
        """The round's head from ``self.in_heads`` (default: bitwise OR); override to change."""
        return reduce_or(self.in_heads)

    def finish(self) -> None:
        """End the stream after the current round."""
        self._finish_requested = True

    @property
    def finish_requested(self) -> bool:
        return self._finish_requested


class PythonJob(BaseJob):
    """A job written in Python: override ``run`` (see the module docstring)."""


class LocalJob:
    """Mixin: the job runs on the client, never on a server (``class X(LocalJob, PythonJob)``)."""

    GROUPS: ClassVar[str | Sequence[str]] = "LOCAL"


class ExecutableJob(BaseJob):
    """A job that is a program in any language, bridged to its pipes by the job host.

    The program is started in the job's working folder (where its DEPENDENCIES folders were
    copied) as ``EXECUTABLE PARAMETERS -i <in> -i <in> ... -o <out> ...``: one ``INPUT_FLAG``
    per input and one ``OUTPUT_FLAG`` per output, in config order, each followed by the path
    of a named pipe (a FIFO). The program reads each input block's bytes in its pipe's format
    (``BLOCK_SIZE`` bytes for a BytesPipe, one line for a JSONPipe, one pickle for a
    PicklePipe; ``BLOCK_COUNT`` blocks per round) and writes one block per output per round.
    With ``HEAD = True`` each block is preceded by its head byte, in both directions.

    A source program's exit ends the stream (exit status 0) or fails the job (any other
    status); a program that dies while data flows is a job failure, reported with the last
    lines it wrote to stderr.
    """

    #: The command: a program path (relative to the job's working folder) or name on PATH,
    #: with fixed arguments; split like a shell would (quotes work), never run by a shell.
    EXECUTABLE: ClassVar[str] = ""
    #: Further arguments, placed before the pipe flags.
    PARAMETERS: ClassVar[str] = ""
    INPUT_FLAG: ClassVar[str] = "-i"
    OUTPUT_FLAG: ClassVar[str] = "-o"
    #: False: the flags carry FIFO paths; True (MARVELOJob): inherited descriptor numbers.
    PASS_FDS: ClassVar[bool] = False

    def run(self, *inputs: Any) -> Any:  # replaced by the job host's bridge
        raise NotImplementedError(f"{type(self).__name__} runs its EXECUTABLE, not run()")


class MARVELOJob(ExecutableJob):
    """An executable given file-descriptor numbers (``-i 5 -o 6``) instead of paths, as
    MARVELO programs expect (they ``fdopen`` them)."""

    PASS_FDS: ClassVar[bool] = True


class _DynamicMixin:
    """Configure an executable job in config.py instead of subclassing it."""

    def __init__(
        self,
        dependencies: Any = None,
        executable: str = "",
        parameters: str = "",
        groups: str | Sequence[str] = "ALL",
        input_flag: str = "-i",
        output_flag: str = "-o",
        head: bool = False,
        inputs: Sequence[BasePipe] | None = None,
        outputs: Sequence[BasePipe] | None = None,
    ) -> None:
        super().__init__(inputs=inputs, outputs=outputs)  # type: ignore[call-arg]
        if not executable:
            raise JobError(
                f"{self.declared_at}: {type(self).__name__}: give the program to run, e.g. "  # type: ignore[attr-defined]
                f"executable='./filter'"
            )
        self.DEPENDENCIES = dependencies
        self.EXECUTABLE = executable
        self.PARAMETERS = parameters
        # the original treated '' as "no group given"
        self.GROUPS = groups or "ALL"
        self.INPUT_FLAG = input_flag
        self.OUTPUT_FLAG = output_flag
        self.HEAD = head


class DynamicExecutableJob(_DynamicMixin, ExecutableJob):
    """``DynamicExecutableJob(executable="./sum", dependencies="bin", inputs=..., outputs=...)``"""


class DynamicMARVELOJob(_DynamicMixin, MARVELOJob):
    """Like :class:`DynamicExecutableJob`, with descriptor numbers (what XML_FILE creates)."""


# The built-in jobs live in their own module; their names stay importable from here, as in the
# original (``from fission.core.jobs import CSVSinkJob``).
from fission.core.builtin_jobs import (  # noqa: E402
    ClockJob,
    CSVSinkJob,
    DistributingJob,
    ForwardingJob,
    InteractiveJob,
    LoggingJob,
    LoggingSinkJob,
    SourceJob,
)
