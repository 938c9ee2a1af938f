"""The validated network: jobs numbered in config order and the pipes between them.

``Network.build`` takes the ``JOBS`` list of config.py and either returns an immutable graph or
raises a :class:`~fission.core.errors.ConfigError` naming the config line, the job and the pipe id.
Everything a running network relies on is checked here, before any process starts:

* each pipe has exactly one producer and one consumer among ``JOBS`` (not zero, not two);
* no job feeds itself, and synchronous pipes form no cycle (a cycle could never start);
* each job's ``run`` can take its inputs as positional arguments; generators only for sources;
* pipe classes allow the jobs at their ends (``SOURCE_JOBS`` / ``DESTINATION_JOBS``).
"""

from __future__ import annotations

import graphlib
import inspect
import itertools
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from fission.core.declaration import Location, describe
from fission.core.errors import ConfigError, JobError, PipeError
from fission.core.jobs import BaseJob, ExecutableJob
from fission.core.pipes import GAP_POLICIES, BasePipe
from fission.core.settings import Settings, assignment_lines

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Connection", "Network"]


@dataclass(frozen=True)
class Connection:
    """One wired pipe: who produces it, who consumes it, at which argument positions."""

    pipe: BasePipe
    producer: BaseJob
    consumer: BaseJob
    producer_slot: int
    consumer_slot: int

    @property
    def id(self) -> int:
        return self.pipe.id


class Network:
    """An immutable, validated job graph plus the network's settings."""

    def __init__(
        self,
        name: str,
        jobs: Sequence[BaseJob],
        connections: dict[int, Connection],
        settings: Settings,
        network_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.jobs: tuple[BaseJob, ...] = tuple(jobs)
        self.connections = dict(connections)
        self.settings = settings
        self.network_dir = network_dir
        #: Things that do not stop a run but are most likely mistakes (shown by the commands).
        self.warnings: list[str] = []

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        """The job graph as networkx: nodes are job ids, edges are keyed by pipe id."""
        import networkx as nx  # only tools that draw or analyse the graph pay for the import

        graph = nx.MultiDiGraph()
        for job in self.jobs:
            graph.add_node(job.id, job=job)
        for conn in self.connections.values():
            graph.add_edge(conn.producer.id, conn.consumer.id, key=conn.id, pipe=conn.pipe)
        return graph

    # -- queries ----------------------------------------------------------------------------
    def job(self, job_id: int) -> BaseJob:
        return self.jobs[job_id - 1]

    def sinks(self) -> list[BaseJob]:
        return [job for job in self.jobs if job.is_sink()]

    def sources(self) -> list[BaseJob]:
        return [job for job in self.jobs if not job.inputs]

    def inputs_of(self, job: BaseJob) -> list[Connection]:
        return [self.connections[p.id] for p in job.inputs]

    def outputs_of(self, job: BaseJob) -> list[Connection]:
        return [self.connections[p.id] for p in job.outputs]

    def __repr__(self) -> str:
        return f"<Network {self.name}: {len(self.jobs)} jobs, {len(self.connections)} pipes>"

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        name: str,
        jobs: Iterable[object],
        settings: Settings,
        declared_jobs: Sequence[BaseJob] = (),
        network_dir: Path | None = None,
    ) -> Network:
        """Validate ``jobs`` (the JOBS list) and number them 1, 2, ... in order."""
        config = settings.config_file
        job_list = _checked_job_list(jobs, config)
        for number, job in enumerate(job_list, start=1):
            job.id = number
        producers: dict[int, tuple[BaseJob, int]] = {}
        consumers: dict[int, tuple[BaseJob, int]] = {}
        pipes: dict[int, BasePipe] = {}
        for job in job_list:
            _register_ends(job, "outputs", producers, pipes)
            _register_ends(job, "inputs", consumers, pipes)
            if not job.inputs and not job.outputs:
                raise JobError(
                    f"{job.declared_at}: {job.name} has neither inputs nor outputs; give it "
                    f"pipes, e.g. outputs=[PicklePipe(101)]"
                )
            _check_run_signature(job)
            _check_class_attributes(job)
            if job.inputs and all(p.ASYNC for p in job.inputs) and not job.outputs:
                raise JobError(
                    f"{job.declared_at}: {job.name} has only optional inputs and no outputs; "
                    f"such a job is called again and again like a source, so it needs an "
                    f"output, or make one input a plain (synchronous) pipe"
                )
        listed = {id(job) for job in job_list}
        unlisted = [job for job in declared_jobs if id(job) not in listed]
        connections: dict[int, Connection] = {}
        for pipe_id, pipe in sorted(pipes.items()):
            if pipe_id not in producers:
                consumer = consumers[pipe_id][0]
                raise PipeError(
                    f"{consumer.declared_at}: pipe {pipe_id} is an input of {consumer.name} but "
                    f"no job in JOBS has it as an output"
                    + _unlisted_hint(unlisted, pipe_id, "outputs")
                )
            if pipe_id not in consumers:
                producer = producers[pipe_id][0]
                raise PipeError(
                    f"{producer.declared_at}: pipe {pipe_id} is an output of {producer.name} but "
                    f"no job in JOBS has it as an input"
                    + _unlisted_hint(unlisted, pipe_id, "inputs")
                )
            producer, out_slot = producers[pipe_id]
            consumer, in_slot = consumers[pipe_id]
            if producer is consumer:
                raise PipeError(
                    f"{producer.declared_at}: {producer.name} has pipe {pipe_id} as both input "
                    f"and output; a job cannot feed itself"
                )
            _check_whitelists(pipe, producer, consumer)
            _check_pipe_options(pipe, consumer)
            connections[pipe_id] = Connection(pipe, producer, consumer, out_slot, in_slot)
        network = cls(name, job_list, connections, settings, network_dir)
        _check_acyclic(network)
        network.warnings = [
            f"{job.declared_at}: {type(job).__name__} is created but not listed in JOBS (ignored)"
            for job in unlisted
        ]
        return network


def _jobs_line(config: str) -> Location:
    return Location(config, assignment_lines(config).get("JOBS", 0))


def _checked_job_list(jobs: Iterable[object], config: str) -> list[BaseJob]:
    if not isinstance(jobs, (list, tuple)):
        raise ConfigError(
            f"{_jobs_line(config)}: JOBS must be a list of jobs, got {type(jobs).__name__}"
        )
    seen: dict[int, int] = {}
    job_list: list[BaseJob] = []
    for position, job in enumerate(jobs, start=1):
        if not isinstance(job, BaseJob):
            raise ConfigError(
                f"{_jobs_line(config)}: JOBS entry {position} is {job!r}, not a job; JOBS holds "
                f"job objects such as SourceJob(outputs=[PicklePipe(101)])"
            )
        if id(job) in seen:
            raise ConfigError(
                f"{job.declared_at}: the same {type(job).__name__} object is listed twice in "
                f"JOBS (entries {seen[id(job)]} and {position}); create two jobs instead"
            )
        seen[id(job)] = position
        job_list.append(job)
    if not job_list:
        raise ConfigError(f"{_jobs_line(config)}: JOBS is empty; list the jobs of the network")
    return job_list


def _register_ends(
    job: BaseJob,
    role: str,
    ends: dict[int, tuple[BaseJob, int]],
    pipes: dict[int, BasePipe],
) -> None:
    what = "producer" if role == "outputs" else "consumer"
    for slot, pipe in enumerate(getattr(job, role)):
        known = pipes.setdefault(pipe.id, pipe)
        if known is not pipe:
            # Two distinct objects with one id: only possible when a pipe was created outside
            # the config's declaration scope (e.g. in a module imported before the load).
            raise PipeError(
                f"{job.declared_at}: {job.name} uses a second, different pipe object with id "
                f"{pipe.id} ({describe(known)} is the first); declare pipes in config.py"
            )
        if pipe.id in ends:
            other, _ = ends[pipe.id]
            if other is job:
                raise PipeError(
                    f"{job.declared_at}: {job.name} lists pipe {pipe.id} twice in its {role}"
                )
            raise PipeError(
                f"{job.declared_at}: pipe {pipe.id} has two {what}s: {job.name} and "
                f"{other.name} ({other.declared_at}); a pipe connects exactly one producer to "
                f"one consumer, so give one of them another pipe id"
            )
        ends[pipe.id] = (job, slot)


def _unlisted_hint(unlisted: Sequence[BaseJob], pipe_id: int, role: str) -> str:
    for job in unlisted:
        if any(p.id == pipe_id for p in getattr(job, role)):
            return (
                f"; {type(job).__name__} created at {job.declared_at} has it, but that job is "
                f"not listed in JOBS"
            )
    return "; add the job at the other end, or remove the pipe"


def _check_class_attributes(job: BaseJob) -> None:
    """HEAD, MAX_QUEUE, GROUPS and DEFAULT_NODE: a wrong type is a load error, not a surprise."""
    where = f"{job.declared_at}: {job.name}"
    if not isinstance(job.HEAD, bool):
        raise JobError(f"{where}: HEAD must be True or False, got {job.HEAD!r}")
    if isinstance(job.MAX_QUEUE, bool) or not isinstance(job.MAX_QUEUE, int):
        raise JobError(f"{where}: MAX_QUEUE must be an integer, got {job.MAX_QUEUE!r}")
    groups = job.GROUPS
    if not isinstance(groups, str) and not (
        isinstance(groups, (list, tuple)) and all(isinstance(g, str) for g in groups)
    ):
        raise JobError(
            f'{where}: GROUPS must be a group name or a list of names, e.g. ["MIC", "ALL"], '
            f"got {groups!r}"
        )
    if job.DEFAULT_NODE is not None and not isinstance(job.DEFAULT_NODE, str):
        raise JobError(
            f"{where}: DEFAULT_NODE must be a server address (a string) or None, got "
            f"{job.DEFAULT_NODE!r}"
        )


def _check_run_signature(job: BaseJob) -> None:
    if isinstance(job, ExecutableJob):
        _check_executable(job)
        return
    run = job.run
    try:
        signature = inspect.signature(run)
    except (TypeError, ValueError):  # builtins without signatures: nothing to check
        return
    count = len(job.inputs)
    if inspect.isgeneratorfunction(run) and count:
        raise JobError(
            f"{job.declared_at}: {job.name}.run is a generator but the job has {count} "
            f"input(s); only sources (jobs without inputs) may yield, others return a value"
        )
    try:
        signature.bind(*range(count))
    except TypeError as exc:
        params = ", ".join(["self", *signature.parameters]) if signature.parameters else "self"
        raise JobError(
            f"{job.declared_at}: {job.name}.run({params}) cannot take its {count} input(s) "
            f"({', '.join(repr(p) for p in job.inputs) or 'none'}): {exc}; give run one "
            f"positional parameter per input pipe, in config order"
        ) from None


def _check_executable(job: ExecutableJob) -> None:
    if not str(job.EXECUTABLE).strip():
        raise JobError(
            f"{job.declared_at}: {job.name} has no EXECUTABLE; set it to the program to run, "
            f"e.g. EXECUTABLE = './filter' (relative to its DEPENDENCIES folder)"
        )
    for name in ("EXECUTABLE", "PARAMETERS"):
        try:
            shlex.split(str(getattr(job, name)))
        except ValueError as exc:
            message = f"{job.declared_at}: {job.name}: {name} cannot be split: {exc}"
            raise JobError(message) from None


def _allowed(pipe: BasePipe, attribute: str) -> tuple[type, ...]:
    value = getattr(pipe, attribute, None)
    if not value:
        return ()
    allowed = (value,) if isinstance(value, type) else value
    if not isinstance(allowed, (list, tuple, set, frozenset)) or not all(
        isinstance(cls, type) for cls in allowed
    ):
        raise PipeError(
            f"{pipe.declared_at}: {type(pipe).__name__}.{attribute} must be a list of job "
            f"classes, got {value!r}"
        )
    return tuple(allowed)


def _check_whitelists(pipe: BasePipe, producer: BaseJob, consumer: BaseJob) -> None:
    for job, attribute, role in (
        (producer, "SOURCE_JOBS", "producers"),
        (consumer, "DESTINATION_JOBS", "consumers"),
    ):
        allowed = _allowed(pipe, attribute)
        if allowed and type(job) not in allowed:
            raise PipeError(
                f"{job.declared_at}: {job.name}: pipe {pipe.id} ({pipe!r}) only accepts {role} "
                f"of type {', '.join(t.__name__ for t in allowed)} ({attribute}), not "
                f"{type(job).__name__}; use one of those classes or another pipe class"
            )


def _check_pipe_options(pipe: BasePipe, consumer: BaseJob) -> None:
    """Gap policy and optional-pipe settings: wrong values are reported at load."""
    where = f"{consumer.declared_at}: {consumer.name}: pipe {pipe.id} ({pipe!r})"
    if pipe.GAP_POLICY not in GAP_POLICIES:
        raise PipeError(
            f"{where}: GAP_POLICY is {pipe.GAP_POLICY!r}; choose one of "
            f"{', '.join(repr(p) for p in GAP_POLICIES)}"
        )
    if not pipe.ASYNC:
        return
    if pipe.block_count != 1:
        raise PipeError(
            f"{where}: an optional (ASYNC) pipe delivers one value per round; remove "
            f"BLOCK_COUNT = {pipe.block_count}"
        )
    size = getattr(pipe, "OPTIONAL_BUFFER_SIZE", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise PipeError(f"{where}: OPTIONAL_BUFFER_SIZE must be an integer >= 0, got {size!r}")
    mode = getattr(pipe, "OPTIONAL_DELETE_MODE", "oldest")
    if mode not in ("oldest", "newest"):
        raise PipeError(f'{where}: OPTIONAL_DELETE_MODE must be "oldest" or "newest", got {mode!r}')


def _check_acyclic(network: Network) -> None:
    # graphlib (standard library) instead of networkx here: loading a config stays fast.
    upstream: dict[int, set[int]] = {job.id: set() for job in network.jobs}  # type: ignore[misc]
    pipe_of: dict[tuple[int, int], int] = {}
    for conn in network.connections.values():
        if not conn.pipe.ASYNC:
            upstream[conn.consumer.id].add(conn.producer.id)  # type: ignore[index]
            pipe_of[(conn.producer.id, conn.consumer.id)] = conn.id  # type: ignore[index]
    try:
        graphlib.TopologicalSorter(upstream).prepare()
    except graphlib.CycleError as error:
        cycle = list(error.args[1])  # closed: a ... a, in one direction or the other
        if (cycle[0], cycle[1]) not in pipe_of:
            cycle.reverse()  # producer -> consumer order
        first = network.job(cycle[0])
        path = " -> ".join(
            f"{network.job(a).name} (pipe {pipe_of[(a, b)]})" for a, b in itertools.pairwise(cycle)
        )
        raise PipeError(
            f"{first.declared_at}: the pipes form a cycle: {path}; every round would wait for "
            f"itself. Break the cycle or make one pipe optional"
        ) from None
