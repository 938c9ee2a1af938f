"""Pictures of a network: its job graph as Graphviz dot or mermaid text, and rendered images.

Jobs are boxes named like everywhere else (``JoinJob 4``); every pipe is an edge labelled with
its id. With a placement (job id -> server, None for a job no server has room for), the jobs
are grouped by server: Graphviz clusters, mermaid subgraphs. Images (svg, png) are rendered by
Graphviz's ``dot`` program through the ``graphviz`` Python package; the text formats need no
program.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fission.client.joblogs import default_run_folders, latest_run, no_run
from fission.client.placement import CLIENT, plan
from fission.client.rundir import read_info
from fission.core.errors import FissionError, ProjectError
from fission.core.network import Network

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "FORMATS",
    "IMAGE_FORMATS",
    "PLACEMENT_HELP",
    "draw",
    "placement_of",
    "placement_option",
    "render",
    "save",
    "to_dot",
    "to_mermaid",
]

FORMATS = ("mermaid", "dot", "svg", "png")
IMAGE_FORMATS = ("svg", "png")
#: The group of jobs that no server has room for.
PENDING = "PENDING"
#: The --placement option of the commands that draw.
PLACEMENT_HELP = (
    "Group the jobs by server. --placement alone (or 'planned'): where `run` would put each "
    "job at start, every server in NODES alive (LocalJobs on the client). '--placement run': "
    "where each job runs, or last ran, in the latest run (simulation/ or run/)."
)


def placement_option(function: Any) -> Any:
    """The ``--placement [planned|run]`` option, the same for every command that draws."""
    return click.option(
        "--placement",
        type=click.Choice(["planned", "run"]),
        is_flag=False,
        flag_value="planned",
        default=None,
        help=PLACEMENT_HELP,
    )(function)


def placement_of(network: Network, which: str | None) -> dict[int, str | None] | None:
    """The placement to draw: None, planned by :func:`~fission.client.placement.plan`, or the
    servers of the latest run's jobs (read from its info.txt)."""
    if which is None:
        return None
    if which == "planned":
        return plan(network)
    assert network.network_dir is not None
    candidates = default_run_folders(network.network_dir)
    run = latest_run(candidates)
    if run is None:
        raise ProjectError(
            f"--placement run: {no_run(candidates)}; run the network first, or draw the "
            f"planned placement with --placement"
        )
    where = read_info(run).where()
    return {job.id: where.get(job.id) for job in network.jobs if job.id is not None}


Placement = Mapping[int, str | None]


def _node(job_id: int | None) -> str:
    return f"job{job_id}"


def _server_label(server: str) -> str:
    if server == CLIENT:
        return "client (this machine)"
    if server == "local":
        return "this machine (simulate)"
    if server == PENDING:
        return "PENDING: no server has room"
    return f"server {server}"


def _groups(network: Network, placement: Placement) -> dict[str, list[int]]:
    """Job ids by server, servers in the order of NODES, then the client, then PENDING."""
    order = [getattr(node, "host", "") for node in network.settings.NODES]
    groups: dict[str, list[int]] = {}
    for job in network.jobs:
        assert job.id is not None
        groups.setdefault(placement.get(job.id) or PENDING, []).append(job.id)

    def rank(server: str) -> tuple[int, int]:
        if server in order:
            return (0, order.index(server))
        return (1, 0) if server == CLIENT else (2, 0)

    return {server: groups[server] for server in sorted(groups, key=rank)}


def _graphviz() -> Any:
    # imported when drawing, not whenever a command is looked up
    try:
        import graphviz
    except ImportError:
        raise FissionError(
            "drawing needs the graphviz Python package, a dependency of FISSION that is "
            "missing here: pip install graphviz"
        ) from None
    return graphviz


def to_dot(network: Network, placement: Placement | None = None) -> graphviz.Digraph:
    """The job graph as a Graphviz digraph (``.source`` is the dot text)."""
    graph = _graphviz().Digraph(network.name)
    graph.attr(rankdir="LR", label=f"network {network.name}", labelloc="t")
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="lightblue")
    graph.attr("edge", fontsize="10")
    if placement is None:
        for job in network.jobs:
            graph.node(_node(job.id), job.name)
    else:
        for number, (server, job_ids) in enumerate(_groups(network, placement).items()):
            with graph.subgraph(name=f"cluster_{number}") as cluster:
                color = "mistyrose" if server == PENDING else "lightgrey"
                cluster.attr(label=_server_label(server), style="filled", color=color)
                for job_id in job_ids:
                    cluster.node(_node(job_id), network.job(job_id).name)
    for pipe_id, connection in sorted(network.connections.items()):
        graph.edge(
            _node(connection.producer.id),
            _node(connection.consumer.id),
            label=str(pipe_id),
            tooltip=repr(connection.pipe),
        )
    return graph


def to_mermaid(network: Network, placement: Placement | None = None) -> str:
    """The job graph as a mermaid flowchart (paste it into Markdown)."""
    lines = ["flowchart LR"]
    if placement is None:
        lines += [f'    {_node(job.id)}["{job.name}"]' for job in network.jobs]
    else:
        for number, (server, job_ids) in enumerate(_groups(network, placement).items()):
            lines.append(f'    subgraph server{number}["{_server_label(server)}"]')
            lines += [f'        {_node(i)}["{network.job(i).name}"]' for i in job_ids]
            lines.append("    end")
    for pipe_id, connection in sorted(network.connections.items()):
        lines.append(
            f"    {_node(connection.producer.id)} -->|{pipe_id}| {_node(connection.consumer.id)}"
        )
    return "\n".join(lines) + "\n"


def render(graph: graphviz.Digraph, image_format: str) -> bytes:
    """The picture in ``image_format`` (svg or png), drawn by Graphviz's ``dot`` program."""
    graphviz = _graphviz()
    try:
        return graph.pipe(format=image_format)
    except graphviz.ExecutableNotFound:
        raise FissionError(
            "drawing a picture needs Graphviz's `dot` program, which is not installed; install "
            "it (Debian, Ubuntu, Raspberry Pi OS: sudo apt-get install graphviz), or use "
            "--format mermaid or --format dot, which need no program"
        ) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise FissionError(
            f"Graphviz's dot failed to draw the graph: {detail[-1] if detail else exc}"
        ) from None


def draw(network: Network, output_format: str, placement: Placement | None = None) -> bytes:
    """The graph in ``output_format`` (one of FORMATS): text for mermaid and dot."""
    if output_format == "mermaid":
        return to_mermaid(network, placement).encode()
    if output_format == "dot":
        return to_dot(network, placement).source.encode()
    return render(to_dot(network, placement), output_format)


def save(data: bytes, target: Path) -> None:
    """Write a drawing to ``target``; a failure is one line naming the file."""
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise FissionError(f"cannot write {target}: {exc.strerror}; choose another file") from None
