"""Running jobs in the test's own process: blocks in, rounds as the job host makes them, values out.

The rules are the job host's (DESIGN section 4, :mod:`fission.runtime.host`):

* round ``r`` takes, on every input ``i``, the blocks ``(r-1)*BLOCK_COUNT_i + 1 ..
  r*BLOCK_COUNT_i``; with ``BLOCK_COUNT > 1`` the argument is a list; an input that ended in
  the middle of a round gives that last round the blocks it has, and an input that has no
  block left for a round ends the job's stream;
* a ``None`` block is a round in which the producer sent nothing: a ``BLOCK_COUNT = 1`` input
  gets ``None``, a list leaves it out, and a round in which no input carries data is not run
  (its outputs send nothing for that round either);
* ``run``'s return value goes to the outputs exactly as on a real job host (the host's own
  code maps it, so ``None``, tuples and the wrong-length-tuple error behave the same), and
  every value goes through its pipe's codec (``pack`` then ``unpack``): a ``JSONPipe`` turns
  tuples into lists here as it does between two machines;
* a source's ``run`` is called again and again, or its generator advanced, once per round; a
  ``None`` from a source sends nothing; ``self.finish()`` makes the current round the last;
* ``setup()`` runs before the first round and ``teardown()`` after the last, in ``workdir``
  if one is given (the job's folder on a real run);
* heads: each block may carry a head (``Blocks(values, heads=[...])``); a ``HEAD = True`` job
  gets ``self.in_heads``, ``self.head`` (``head_reduce()``) and ``self.out_heads`` as on a job
  host, and every job's output heads follow the host's rule (what a HEAD job wrote, else the
  OR of its inputs' corrupted and user bits; *corrupted* always carried on); the heads sent
  are in ``JobResult.heads``;
* optional (ASYNC) inputs take no part in rounds: round ``r`` gets the ``r``-th value fed to
  the optional input, or, when there is none (or it is None), the last value taken
  (``OPTIONAL_STORE``) or ``OPTIONAL_DEFAULT``. On a job host, when a value arrives depends on
  timing; here it is one per round, which is how a test says exactly when it arrives.

A sub-graph runs job after job in the order of its pipes, each to the end of its streams:
since rounds are aligned by sequence number, every job sees exactly the blocks it would see
in a real run (only the interleaving of their printed lines differs).
"""

from __future__ import annotations

import contextlib
import graphlib
import inspect
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fission.core.errors import FissionError
from fission.core.head import CORRUPTED, FINISHED, USER_MASK, Head, outgoing_flags
from fission.core.jobs import BaseJob
from fission.core.pipes import BasePipe
from fission.runtime.framing import Kind
from fission.runtime.host import _Outputs

__all__ = ["Blocks", "GraphResult", "HarnessError", "JobResult", "feed", "run_jobs"]

#: A source that has not ended after this many rounds is taken for an endless one.
MAX_ROUNDS = 100_000

_DATA = int(Kind.DATA)


class HarnessError(FissionError):
    """A test asked the harness for something it cannot do (names the job and the fix)."""


@dataclass(frozen=True)
class Blocks:
    """The blocks fed to one input, with sequence numbers 1, 2, 3, ... in order.

    ``None`` stands for a round in which the producer sent nothing. A plain list works as
    well wherever Blocks are taken. ``heads``: one head per block (an int or a
    :class:`~fission.core.head.Head`, e.g. ``0x01`` for user bit 7), 0 when not given.
    """

    values: Sequence[Any]
    heads: Sequence[int | Head] | None = None


@dataclass
class JobResult:
    """What one job did with the blocks it was fed."""

    job: BaseJob
    #: rounds the job went through (a round in which no input carried data counts too)
    rounds: int = 0
    #: the arguments ``run`` got, one tuple per call
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    #: pipe id -> one entry per round, in sequence-number order: the value as its consumer
    #: decodes it, or None for a round that sent nothing on that pipe
    blocks: dict[int, list[Any]] = field(default_factory=dict)
    #: True when the job ended its stream itself (``finish()``, or its generator returned)
    finished: bool = False
    #: pipe id -> the head of each block sent, one entry per round (None: nothing sent)
    heads: dict[int, list[int | None]] = field(default_factory=dict)

    @property
    def outputs(self) -> dict[int, list[Any]]:
        """pipe id -> the values its consumer receives (the rounds that sent something)."""
        return {
            pipe: [value for value in values if value is not None]
            for pipe, values in self.blocks.items()
        }

    @property
    def output(self) -> list[Any]:
        """The values of the job's only output pipe."""
        if len(self.blocks) != 1:
            raise HarnessError(
                f"{self.job.name} has {len(self.blocks)} outputs; use .outputs[<pipe id>]"
            )
        return self.outputs[next(iter(self.blocks))]


@dataclass
class GraphResult:
    """What a sub-graph did: one :class:`JobResult` per job, in the order they ran."""

    results: list[JobResult]
    #: pipe id -> values sent on pipes whose consumer is not in the sub-graph
    outputs: dict[int, list[Any]]

    def of(self, job: BaseJob | str | int) -> JobResult:
        """The result of one job, given as the object, its id, class name or ``Name id``."""
        found = [r for r in self.results if _matches(r.job, job)]
        if len(found) != 1:
            names = ", ".join(r.job.name for r in self.results)
            raise HarnessError(
                f"{job!r} matches {len(found)} jobs of this sub-graph ({names}); name one job"
            )
        return found[0]


def _matches(job: BaseJob, wanted: BaseJob | str | int) -> bool:
    if isinstance(wanted, BaseJob):
        return job is wanted
    return str(wanted) in (str(job.id), type(job).__name__, job.name)


class _Capture:
    """Stands in for a job host's output link: keeps the frames ``_Outputs`` queues."""

    def __init__(self, pipe: BasePipe) -> None:
        self.decode = pipe.decoder()
        self.values: list[Any] = []
        self.heads: list[int | None] = []

    def add(self, kind: int, sqn: int, payload: bytes, flags: int) -> None:
        # sqns arrive in order with no holes: one frame per round and output
        data = kind == _DATA
        self.values.append(self.decode(payload) if data else None)
        self.heads.append(flags & ~FINISHED if data else None)


def _as_heads(data: Blocks | Iterable[Any], count: int) -> list[int]:
    heads = list(data.heads or []) if isinstance(data, Blocks) else []
    if len(heads) > count:
        raise HarnessError(f"{len(heads)} heads for {count} blocks; give one head per block")
    return [int(head) for head in heads] + [0] * (count - len(heads))


def _as_blocks(data: Blocks | Iterable[Any]) -> list[Any]:
    if isinstance(data, Blocks):
        return list(data.values)
    if isinstance(data, (str, bytes)):
        raise HarnessError(
            f"blocks must be given as a list of values, got {type(data).__name__} {data!r}; "
            f"wrap it: [{data!r}]"
        )
    return list(data)


def _through_codec(pipe: BasePipe, values: list[Any]) -> list[Any]:
    """The values as the consumer decodes them after the producer packed them."""
    pack, unpack = pipe.encoder(), pipe.decoder()
    return [None if value is None else unpack(pack(value)) for value in values]


@contextlib.contextmanager
def _working_directory(workdir: Path | None) -> Iterator[None]:
    if workdir is None:
        yield
        return
    Path(workdir).mkdir(parents=True, exist_ok=True)
    before = Path.cwd()
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(before)


class _OptionalInput:
    """An optional input's value in each round (see the module docstring)."""

    def __init__(self, pipe: BasePipe) -> None:
        self.pipe = pipe
        self.last = getattr(pipe, "OPTIONAL_DEFAULT", None)
        self.last_head = 0

    def take(self, stream: list[Any], heads: list[int], r: int) -> tuple[Any, int]:
        if r <= len(stream) and stream[r - 1] is not None:
            value, head = stream[r - 1], heads[r - 1]
            if getattr(self.pipe, "OPTIONAL_STORE", True):
                self.last, self.last_head = value, head
            return value, head
        if getattr(self.pipe, "OPTIONAL_STORE", True):
            return self.last, self.last_head
        return getattr(self.pipe, "OPTIONAL_DEFAULT", None), 0


def _round_arguments(
    job: BaseJob,
    streams: list[list[Any]],
    heads: list[list[int]],
    optional: dict[int, _OptionalInput],
    r: int,
) -> tuple[list[Any], list[Any]] | bool | None:
    """The arguments of round ``r`` and their heads; None if no input carries data; False if
    the stream ended."""
    args: list[Any] = []
    in_heads: list[Any] = []
    any_data = False
    aligned = False
    for index, (pipe, stream) in enumerate(zip(job.inputs, streams, strict=True)):
        if index in optional:
            value, head = optional[index].take(stream, heads[index], r)
            args.append(value)
            in_heads.append(Head(head))
            continue
        aligned = True
        count = pipe.block_count
        low, high = (r - 1) * count + 1, r * count
        if len(stream) < low:
            return False
        taken = [
            (v, h)
            for v, h in zip(stream[low - 1 : high], heads[index][low - 1 : high], strict=True)
            if v is not None
        ]
        any_data = any_data or bool(taken)
        if count == 1:
            args.append(taken[0][0] if taken else None)
            in_heads.append(Head(taken[0][1] if taken else 0))
        else:
            args.append([v for v, _ in taken])
            in_heads.append([Head(h) for _, h in taken])
    if not aligned:  # only optional inputs: called again and again, like a function source
        return args, in_heads
    return (args, in_heads) if any_data else None


def _round_flags(in_heads: list[Any]) -> int:
    """What a round passes on to its outputs: the OR of its inputs' corrupted and user bits."""
    flags = 0
    for head in in_heads:
        for one in head if isinstance(head, list) else [head]:
            flags |= int(one)
    return flags & (CORRUPTED | USER_MASK)


def _emit(job: BaseJob, emitter: _Outputs, sqn: int, value: Any, round_flags: int) -> None:
    """Queue a round's output with the heads a job host would give it."""
    finishing = job._finish_requested
    if not job.HEAD:
        emitter.emit(sqn, value, outgoing_flags(None, round_flags, finishing))
        return
    written = [
        job.out_heads[i] if i < len(job.out_heads) and job.out_heads[i] is not None else job.head
        for i in range(emitter.count)
    ]
    emitter.emit_each(sqn, value, [outgoing_flags(w, round_flags, finishing) for w in written])


def _run_rounds(
    job: BaseJob,
    streams: list[list[Any]],
    rounds: int | None,
    heads: list[list[int]] | None = None,
) -> JobResult:
    result = JobResult(job)
    captures = [_Capture(pipe) for pipe in job.outputs]
    emitter = _Outputs(job, captures)  # type: ignore[arg-type]
    heads = heads if heads is not None else [[0] * len(stream) for stream in streams]
    optional = {index: _OptionalInput(pipe) for index, pipe in enumerate(job.inputs) if pipe.ASYNC}
    only_optional = bool(job.inputs) and len(optional) == len(job.inputs)
    source = not job.inputs or only_optional
    # a job with inputs ends with them; only a source may go on for ever
    limit: float = rounds if rounds is not None else (MAX_ROUNDS if source else math.inf)
    job._finish_requested = False
    generator = job.run() if source and inspect.isgeneratorfunction(job.run) else None
    sqn = 0
    while result.rounds < limit:
        if source and not only_optional:
            if job.HEAD:
                job.in_heads, job.head, job.out_heads = [], Head(), [None] * emitter.count
            try:
                value = next(generator) if generator is not None else job.run()
            except StopIteration:
                result.finished = True
                break
            result.rounds += 1
            result.calls.append(())
            if value is not None:
                sqn += 1
                _emit(job, emitter, sqn, value, 0)
        else:
            taken = _round_arguments(job, streams, heads, optional, result.rounds + 1)
            if taken is False:
                break
            result.rounds += 1
            sqn = result.rounds
            if taken is None:
                emitter.emit(sqn, None, 0)
                continue
            assert isinstance(taken, tuple)
            args, in_heads = taken
            if job.HEAD:
                job.in_heads = in_heads
                job.head = job.head_reduce()
                job.out_heads = [None] * emitter.count
            result.calls.append(tuple(args))
            returned = job.run(*args)
            if job.outputs:  # a sink's return value is ignored, as on a job host
                _emit(job, emitter, sqn, returned, _round_flags(in_heads))
        if job._finish_requested:
            result.finished = True
            break
    else:
        if rounds is None and source:
            raise HarnessError(
                f"{job.name} produced {MAX_ROUNDS} rounds without ending; give rounds=N to "
                f"stop a source that runs for ever"
            )
    result.blocks = {
        pipe.id: capture.values for pipe, capture in zip(job.outputs, captures, strict=True)
    }
    result.heads = {
        pipe.id: capture.heads for pipe, capture in zip(job.outputs, captures, strict=True)
    }
    return result


def feed(
    job: BaseJob,
    *inputs: Blocks | Iterable[Any],
    rounds: int | None = None,
    workdir: Path | str | None = None,
) -> JobResult:
    """Run ``job`` in this process on the given blocks, one list per input in input order.

    Args:
        job: a job object, e.g. ``Double(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])``.
        inputs: the blocks of each input (sequence numbers 1, 2, ...); None for a round in
            which the producer sent nothing. Values go through the input pipe's codec.
        rounds: stop after this many rounds (needed for a source that never ends).
        workdir: folder to run ``setup``/``run``/``teardown`` in (created if missing).

    Returns:
        A :class:`JobResult`: ``.output`` (values of the only output), ``.outputs``,
        ``.blocks``, ``.calls``, ``.rounds``, ``.finished``.

    Raises:
        HarnessError: the inputs do not fit the job. The job's own exceptions propagate.
    """
    if len(inputs) != len(job.inputs):
        raise HarnessError(
            f"{job.name} has {len(job.inputs)} input(s) ({', '.join(map(repr, job.inputs))}) "
            f"but {len(inputs)} list(s) of blocks were given; give one list per input, in order"
        )
    streams = [
        _through_codec(pipe, _as_blocks(data))
        for pipe, data in zip(job.inputs, inputs, strict=True)
    ]
    heads = [_as_heads(data, len(stream)) for data, stream in zip(inputs, streams, strict=True)]
    with _working_directory(Path(workdir) if workdir is not None else None):
        job.setup()
        try:
            return _run_rounds(job, streams, rounds, heads)
        finally:
            job.teardown()


def run_jobs(
    jobs: Sequence[BaseJob],
    inputs: Mapping[int, Blocks | Iterable[Any]] | None = None,
    rounds: int | Mapping[BaseJob, int] | None = None,
    workdir: Path | str | None = None,
) -> GraphResult:
    """Run a sub-graph in this process: ``jobs`` wired by their pipe ids.

    Args:
        jobs: the jobs; a pipe id that is an output of one and an input of another connects
            them.
        inputs: pipe id -> blocks, for every input pipe that no job of ``jobs`` produces.
        rounds: the rounds of each source (one number for all, or per job object).
        workdir: the jobs run with ``workdir/<job name>`` as working directory.

    Returns:
        A :class:`GraphResult`: ``.of(job)`` gives one job's :class:`JobResult`; ``.outputs``
        the values on pipes leaving the sub-graph.
    """
    inputs = dict(inputs or {})
    producers: dict[int, BaseJob] = {}
    for job in jobs:
        for pipe in job.outputs:
            if pipe.id in producers:
                raise HarnessError(
                    f"pipe {pipe.id} is an output of both {producers[pipe.id].name} and "
                    f"{job.name}; a pipe has one producer"
                )
            producers[pipe.id] = job
    consumed = {pipe.id for job in jobs for pipe in job.inputs}
    for pipe_id in inputs:
        if pipe_id in producers:
            raise HarnessError(
                f"pipe {pipe_id} is produced by {producers[pipe_id].name} in this sub-graph; "
                f"blocks can only be fed to pipes no job of it produces"
            )
        if pipe_id not in consumed:
            raise HarnessError(f"no job of this sub-graph has pipe {pipe_id} as an input")
    order = graphlib.TopologicalSorter(
        {
            index: [jobs.index(producers[p.id]) for p in job.inputs if p.id in producers]
            for index, job in enumerate(jobs)
        }
    )
    try:
        sequence = [jobs[index] for index in order.static_order()]
    except graphlib.CycleError:
        raise HarnessError("the jobs form a cycle of pipes; a sub-graph must be acyclic") from None
    sent: dict[int, list[Any]] = {}
    sent_heads: dict[int, list[int | None]] = {}
    results: list[JobResult] = []
    for job in sequence:
        streams = []
        heads: list[list[int]] = []
        for position, pipe in enumerate(job.inputs, start=1):
            if pipe.id in producers:
                streams.append(sent[pipe.id])
                heads.append([h or 0 for h in sent_heads[pipe.id]])
            elif pipe.id in inputs:
                streams.append(_through_codec(pipe, _as_blocks(inputs[pipe.id])))
                heads.append(_as_heads(inputs[pipe.id], len(streams[-1])))
            else:
                raise HarnessError(
                    f"pipe {pipe.id} (input {position} of {job.name}) has no producer among the "
                    f"jobs; feed it: inputs={{{pipe.id}: [...]}}"
                )
        limit = rounds.get(job) if isinstance(rounds, Mapping) else rounds
        folder = Path(workdir) / job.name.replace(" ", "-") if workdir is not None else None
        with _working_directory(folder):
            job.setup()
            try:
                result = _run_rounds(job, streams, limit if not job.inputs else None, heads)
            finally:
                job.teardown()
        results.append(result)
        sent.update(result.blocks)
        sent_heads.update(result.heads)
    leaving = {
        pipe_id: [value for value in values if value is not None]
        for pipe_id, values in sent.items()
        if pipe_id not in consumed
    }
    return GraphResult(results, leaving)
