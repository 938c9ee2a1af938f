"""``XML_FILE``: a MARVELO XML topology imported into the network of a config.py.

The file describes servers and the executables placed on them; each executable talks to its
pipes through inherited file descriptors, so every job it declares becomes a
:class:`~fission.core.jobs.DynamicMARVELOJob`. The shape, with the default names::

    <network>                                  (the root's tag is not checked)
      <node pi_id="10.0.2.13">                 one server; every child is a job
        <algorithm path="bin" executable="./filter.py">   (the job's tag is not checked)
          <parameter param="--gain 2"/>        joined with spaces into PARAMETERS
          <input pipe_id="1" block_size="2048" block_count="1"/>
          <output pipe_id="2"/>
        </algorithm>
      </node>
    </network>

Rules kept here (and in docs/xml.md):

* ``path`` is the job's DEPENDENCIES folder (relative to the project folder, as for any job),
  ``executable`` its command; inputs and outputs keep document order. ``source_pi_id`` and
  ``target_pi_id`` are accepted and ignored, as MARVELO files carry them.
* A pipe's ``block_size`` / ``block_count`` may be written at either end or both (then they
  must agree). A size given nowhere is :data:`DEFAULT_BLOCK_SIZE`, not the original's 1 byte
  (one frame per byte), and the network gets a warning naming those pipes.
* A pipe id that a job of ``JOBS`` also uses is the same pipe: a Python job can feed an XML
  executable and the other way round. The pipe keeps its config.py class (e.g. a BytesPipe
  subclass with ``struct`` packing); XML sizes must then agree with it.
* ``pi_id`` becomes the jobs' ``DEFAULT_NODE``; a server not already in ``NODES`` is added with
  room for at least its XML jobs. Placement falls back to ``GROUPS`` ("ALL") when that server
  is dead or full, as the original re-allocated jobs of a node that had too few CPUs.
* ``XML_ARGS`` renames tags and attributes (keys of :data:`DEFAULT_NAMES`); the original read
  it but never used it.

Every mistake is a :class:`ConfigError` naming the XML file and line. The standard library's
expat parser gives the lines and does not fetch external entities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from fission.core.declaration import Location
from fission.core.errors import ConfigError, PipeError
from fission.core.jobs import BaseJob, DynamicMARVELOJob
from fission.core.nodes import BaseNode
from fission.core.pipes import BasePipe, BytesPipe
from fission.core.settings import Settings, assignment_lines

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_NAMES",
    "Topology",
    "find_xml_file",
    "import_topology",
    "read_topology",
]

#: Bytes per block of a pipe whose size neither end gives (the original used 1).
DEFAULT_BLOCK_SIZE = 4096

#: The names the format uses, by the key XML_ARGS uses to rename them (the original's
#: loader arguments).
DEFAULT_NAMES: Mapping[str, str] = {
    "ip": "pi_id",
    "executable": "executable",
    "dependencies": "path",
    "input": "input",
    "output": "output",
    "pipe_id": "pipe_id",
    "parameter_tag": "parameter",
    "parameter": "param",
    "block_size": "block_size",
    "block_count": "block_count",
}


@dataclass
class _Element:
    tag: str
    attrib: dict[str, str]
    line: int
    children: list[_Element] = field(default_factory=list)


@dataclass
class _End:
    """One end of a pipe as the XML writes it."""

    pipe_id: int
    line: int
    size: int | None
    count: int | None


@dataclass
class _JobSpec:
    element: _Element
    ip: str
    executable: str
    dependencies: str | None
    parameters: str
    inputs: list[_End]
    outputs: list[_End]


@dataclass(frozen=True)
class Topology:
    """What one XML file adds to a network."""

    file: Path
    #: In document order; they are numbered after the jobs of JOBS.
    jobs: tuple[DynamicMARVELOJob, ...]
    #: One per distinct ``pi_id`` that NODES did not already declare.
    nodes: tuple[BaseNode, ...]
    warnings: tuple[str, ...] = ()


# -- finding and parsing the file ----------------------------------------------------------------
def find_xml_file(name: str, network_dir: Path, project_dir: Path, where: Location) -> Path:
    """Resolve XML_FILE: absolute, else the network folder first, then the project folder."""
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else [network_dir / path, project_dir / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    raise ConfigError(
        f"{where}: XML_FILE {name!r} not found (looked for {looked}); a relative path starts "
        f"at the network folder, then at the project folder"
    )


def _parse(path: Path) -> _Element:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the XML_FILE: {exc.strerror}") from None
    parser = expat.ParserCreate()
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(tag: str, attrib: dict[str, str]) -> None:
        element = _Element(tag, attrib, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(tag: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        raise ConfigError(
            f"{Location(str(path), exc.lineno)}: invalid XML: {reason} (column {exc.offset + 1})"
        ) from None
    return roots[0]


# -- reading the elements ------------------------------------------------------------------------
class _Reader:
    def __init__(self, path: Path, names: Mapping[str, str]) -> None:
        self.path = path
        self.names = names

    def at(self, element: _Element) -> Location:
        return Location(str(self.path), element.line)

    def required(self, element: _Element, key: str) -> str:
        attribute = self.names[key]
        value = element.attrib.get(attribute)
        if value is None or not value.strip():
            raise ConfigError(
                f"{self.at(element)}: <{element.tag}> needs the attribute {attribute}="
                + ("" if value is None else " (it is empty)")
                + _renamed_hint(key, attribute)
            )
        return value.strip()

    def number(self, element: _Element, key: str, required: bool) -> int | None:
        attribute = self.names[key]
        text = element.attrib.get(attribute)
        if text is None and not required:
            return None
        text = self.required(element, key)
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigError(
                f"{self.at(element)}: <{element.tag}> {attribute}={text!r} must be a whole "
                f"number >= 1"
            )
        return value

    def end(self, element: _Element) -> _End:
        pipe_id = self.number(element, "pipe_id", required=True)
        assert pipe_id is not None
        if pipe_id > 0xFFFFFFFF:
            raise ConfigError(f"{self.at(element)}: pipe ids must be below 2**32, got {pipe_id}")
        return _End(
            pipe_id,
            element.line,
            self.number(element, "block_size", required=False),
            self.number(element, "block_count", required=False),
        )

    def job(self, element: _Element, ip: str) -> _JobSpec:
        spec = _JobSpec(
            element=element,
            ip=ip,
            executable=self.required(element, "executable"),
            dependencies=(element.attrib.get(self.names["dependencies"]) or "").strip() or None,
            parameters="",
            inputs=[],
            outputs=[],
        )
        parameters: list[str] = []
        kinds = {
            self.names["input"]: spec.inputs,
            self.names["output"]: spec.outputs,
        }
        for child in element.children:
            if child.tag in kinds:
                kinds[child.tag].append(self.end(child))
            elif child.tag == self.names["parameter_tag"]:
                parameters.append(self.required(child, "parameter"))
            else:
                expected = ", ".join(
                    f"<{self.names[k]}>" for k in ("input", "output", "parameter_tag")
                )
                raise ConfigError(
                    f"{self.at(child)}: unknown element <{child.tag}> in a job; a job holds "
                    f"{expected}"
                )
        spec.parameters = " ".join(parameters)
        if not spec.inputs and not spec.outputs:
            raise ConfigError(
                f"{self.at(element)}: the job {spec.executable!r} has neither "
                f"<{self.names['input']}> nor <{self.names['output']}>; give it pipes"
            )
        return spec


def _renamed_hint(key: str, attribute: str) -> str:
    if attribute == DEFAULT_NAMES[key]:
        return f" (or rename it with XML_ARGS = {{{key!r}: '<name>'}})"
    return f" (renamed by XML_ARGS[{key!r}])"


def _setting_line(settings: Settings, name: str) -> Location:
    return Location(settings.config_file, assignment_lines(settings.config_file).get(name, 0))


def _check_names(settings: Settings) -> dict[str, str]:
    given = settings.XML_ARGS
    where = _setting_line(settings, "XML_ARGS")
    unknown = sorted(str(k) for k in given if k not in DEFAULT_NAMES)
    if unknown:
        raise ConfigError(
            f"{where}: XML_ARGS has unknown key(s) {', '.join(repr(k) for k in unknown)}; "
            f"the keys are {', '.join(DEFAULT_NAMES)}"
        )
    for key, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"{where}: XML_ARGS[{key!r}] must be a tag or attribute name (a string), "
                f"got {value!r}"
            )
    names = {**DEFAULT_NAMES, **{k: v.strip() for k, v in given.items()}}
    tags = [names[k] for k in ("input", "output", "parameter_tag")]
    if len(set(tags)) < len(tags):
        raise ConfigError(
            f"{where}: XML_ARGS gives input, output and parameter_tag the names "
            f"{', '.join(repr(t) for t in tags)}; the three tags must differ"
        )
    return names


# -- building jobs, pipes and nodes --------------------------------------------------------------
def read_topology(
    path: Path,
    names: Mapping[str, str] = DEFAULT_NAMES,
    listed_jobs: Sequence[BaseJob] = (),
    nodes: Sequence[Any] = (),
) -> Topology:
    """Read ``path`` into jobs, pipes and nodes, wired to the pipes of ``listed_jobs``.

    ``listed_jobs`` are the jobs of JOBS: a pipe id they use is that pipe. ``nodes`` are the
    NODES of the config: a server listed there is not added again.
    """
    reader = _Reader(path, names)
    root = _parse(path)
    specs = [
        reader.job(job, reader.required(node, "ip"))
        for node in root.children
        for job in node.children
    ]
    if not specs:
        raise ConfigError(
            f'{reader.at(root)}: the XML_FILE declares no jobs; write <node {names["ip"]}="..."> '
            f"elements holding one element per executable"
        )
    python_pipes = _python_ends(listed_jobs)
    pipes, unsized = _make_pipes(reader, specs, python_pipes)
    jobs: list[DynamicMARVELOJob] = []
    for spec in specs:
        job = DynamicMARVELOJob(
            dependencies=spec.dependencies,
            executable=spec.executable,
            parameters=spec.parameters,
            inputs=[pipes[end.pipe_id] for end in spec.inputs],
            outputs=[pipes[end.pipe_id] for end in spec.outputs],
        )
        job.declared_at = reader.at(spec.element)
        job.DEFAULT_NODE = spec.ip
        jobs.append(job)
    new_nodes, warnings = _nodes(reader, specs, nodes)
    if unsized:
        warnings.append(
            f"{Location(str(path), 0)}: no block_size for pipe(s) "
            f"{', '.join(map(str, unsized))}; they carry blocks of {DEFAULT_BLOCK_SIZE} bytes, "
            f"so their executables must write whole blocks (write "
            f'{names["block_size"]}="..." at one end to choose)'
        )
    return Topology(path, tuple(jobs), tuple(new_nodes), tuple(warnings))


@dataclass
class _PythonPipe:
    pipe: BasePipe
    producer: BaseJob | None = None
    consumer: BaseJob | None = None


def _python_ends(listed_jobs: Sequence[BaseJob]) -> dict[int, _PythonPipe]:
    found: dict[int, _PythonPipe] = {}
    for job in listed_jobs:
        if not isinstance(job, BaseJob):
            continue  # Network.build reports it
        for role in ("outputs", "inputs"):
            for pipe in getattr(job, role):
                entry = found.setdefault(pipe.id, _PythonPipe(pipe))
                if role == "outputs":
                    entry.producer = entry.producer or job
                else:
                    entry.consumer = entry.consumer or job
    return found


def _job_label(spec: _JobSpec) -> str:
    return repr(spec.executable)


def _make_pipes(
    reader: _Reader, specs: Sequence[_JobSpec], python_pipes: Mapping[int, _PythonPipe]
) -> tuple[dict[int, BasePipe], list[int]]:
    """The pipe of every id the XML uses, and the ids that got :data:`DEFAULT_BLOCK_SIZE`."""
    producers: dict[int, tuple[_JobSpec, _End]] = {}
    consumers: dict[int, tuple[_JobSpec, _End]] = {}
    for spec in specs:
        for ends, role, table in (
            (spec.outputs, "producer", producers),
            (spec.inputs, "consumer", consumers),
        ):
            for end in ends:
                where = Location(str(reader.path), end.line)
                if end.pipe_id in table:
                    other, other_end = table[end.pipe_id]
                    raise PipeError(
                        f"{where}: pipe {end.pipe_id} has two {role}s: {_job_label(spec)} and "
                        f"{_job_label(other)} (line {other_end.line}); a pipe connects exactly "
                        f"one producer to one consumer"
                    )
                table[end.pipe_id] = (spec, end)
                python = python_pipes.get(end.pipe_id)
                python_job = None
                if python is not None:
                    python_job = python.producer if role == "producer" else python.consumer
                if python_job is not None:
                    raise PipeError(
                        f"{where}: pipe {end.pipe_id} has two {role}s: {_job_label(spec)} in "
                        f"the XML and {type(python_job).__name__} in JOBS "
                        f"({python_job.declared_at}); a pipe connects exactly one producer to "
                        f"one consumer"
                    )
    pipes: dict[int, BasePipe] = {}
    unsized: list[int] = []

    def first_line(pipe_id: int) -> int:
        return min(table[pipe_id][1].line for table in (producers, consumers) if pipe_id in table)

    # In document order, so that the first mistake in the file is the one reported.
    for pipe_id in sorted({*producers, *consumers}, key=first_line):
        ends = [table[pipe_id] for table in (producers, consumers) if pipe_id in table]
        python = python_pipes.get(pipe_id)
        if pipe_id not in producers and (python is None or python.producer is None):
            spec, end = consumers[pipe_id]
            raise PipeError(
                f"{Location(str(reader.path), end.line)}: pipe {pipe_id} is an input of "
                f"{_job_label(spec)} but nothing produces it: no <{reader.names['output']}> in "
                f"the XML and no job in JOBS has it as an output"
            )
        if pipe_id not in consumers and (python is None or python.consumer is None):
            spec, end = producers[pipe_id]
            raise PipeError(
                f"{Location(str(reader.path), end.line)}: pipe {pipe_id} is an output of "
                f"{_job_label(spec)} but nothing consumes it: no <{reader.names['input']}> in "
                f"the XML and no job in JOBS has it as an input"
            )
        size, count = _agreed_sizes(reader, pipe_id, [end for _, end in ends])
        if python is not None:
            _check_python_pipe(reader, python.pipe, ends[0][1], size, count)
            pipes[pipe_id] = python.pipe
            continue
        pipe = BytesPipe(pipe_id, size or DEFAULT_BLOCK_SIZE, count or 1)
        pipe.declarations = [Location(str(reader.path), ends[0][1].line)]
        pipes[pipe_id] = pipe
        if size is None:
            unsized.append(pipe_id)
    return pipes, sorted(unsized)


def _agreed_sizes(
    reader: _Reader, pipe_id: int, ends: Sequence[_End]
) -> tuple[int | None, int | None]:
    agreed: dict[str, tuple[int, int]] = {}  # key -> (value, line)
    for end in ends:
        for key, value in (("block_size", end.size), ("block_count", end.count)):
            if value is None:
                continue
            if key in agreed and agreed[key][0] != value:
                first, line = agreed[key]
                raise PipeError(
                    f"{Location(str(reader.path), end.line)}: pipe {pipe_id} has "
                    f"{reader.names[key]}={value} here but {first} at line {line}; both ends "
                    f"must agree"
                )
            agreed.setdefault(key, (value, end.line))
    size = agreed.get("block_size")
    count = agreed.get("block_count")
    return (size[0] if size else None, count[0] if count else None)


def _check_python_pipe(
    reader: _Reader, pipe: BasePipe, end: _End, size: int | None, count: int | None
) -> None:
    where = Location(str(reader.path), end.line)
    declared = f"{pipe!r} in config.py ({pipe.declared_at})"
    if size is not None:
        if not isinstance(pipe, BytesPipe):
            raise PipeError(
                f"{where}: pipe {pipe.id} is {declared}, which has no fixed block size; remove "
                f"{reader.names['block_size']} from the XML or make it a BytesPipe"
            )
        if pipe.block_size != size:
            raise PipeError(
                f"{where}: pipe {pipe.id} has {reader.names['block_size']}={size} here but "
                f"{pipe.block_size} as {declared}; both ends must agree"
            )
    if count is not None and pipe.block_count != count:
        raise PipeError(
            f"{where}: pipe {pipe.id} has {reader.names['block_count']}={count} here but "
            f"{pipe.block_count} as {declared}; both ends must agree"
        )


def _nodes(
    reader: _Reader, specs: Sequence[_JobSpec], declared: Sequence[Any]
) -> tuple[list[BaseNode], list[str]]:
    per_ip: dict[str, list[_JobSpec]] = {}
    for spec in specs:
        per_ip.setdefault(spec.ip, []).append(spec)
    known = {node.host: node for node in declared if _plain(node)}
    nodes: list[BaseNode] = []
    warnings: list[str] = []
    for ip, jobs in per_ip.items():
        if ip in known:
            node = known[ip]
            if node.slots < len(jobs):
                warnings.append(
                    f"{reader.at(jobs[0].element)}: {len(jobs)} jobs are assigned to {ip} but "
                    f"its node in NODES ({node.declared_at}) has {node.slots} slot(s); the rest "
                    f"are placed on other servers"
                )
            continue
        node = BaseNode(ip, slots=max(BaseNode.DEFAULT_SLOTS, len(jobs)))
        node.declared_at = reader.at(jobs[0].element)
        nodes.append(node)
    return nodes, warnings


def _plain(node: Any) -> bool:
    # A server given by its address; a MultiNode (it has a pattern) stands for many servers.
    return isinstance(node, BaseNode) and not hasattr(node, "pattern")


# -- the entry point used by the loader ----------------------------------------------------------
def import_topology(
    settings: Settings, network_dir: Path, project_dir: Path
) -> tuple[list[BaseJob], Settings, list[str]]:
    """JOBS followed by the XML_FILE's jobs, the settings with its servers added to NODES, and
    the warnings; without XML_FILE, JOBS and the settings unchanged."""
    listed = list(settings.JOBS)
    if settings.XML_FILE is None:
        return listed, settings, []
    names = _check_names(settings)
    where = _setting_line(settings, "XML_FILE")
    path = find_xml_file(settings.XML_FILE, network_dir, project_dir, where)
    nodes = list(settings.NODES) if isinstance(settings.NODES, (list, tuple)) else []
    topology = read_topology(path, names, listed, nodes)
    if topology.nodes:
        values = {**settings.values, "NODES": [*nodes, *topology.nodes]}
        settings = dataclasses.replace(settings, values=values)
    if not path.resolve().is_relative_to(project_dir.resolve()):
        # Job hosts on servers load the network from the shipped project folder.
        problem = (
            f"{where}: XML_FILE {str(path)!r} is outside the project folder; `run` ships only "
            f"the project to the servers, so move the file into the network folder"
        )
        settings = dataclasses.replace(settings, run_problems=(*settings.run_problems, problem))
    return [*listed, *topology.jobs], settings, list(topology.warnings)
