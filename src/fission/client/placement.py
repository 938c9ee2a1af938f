"""Placement: which server runs which job, at start and after a failure (one algorithm).

In order: a LocalJob runs on the client; else the job's ``DEFAULT_NODE`` if it is alive and
has a free slot; else the job's ``GROUPS`` in priority order, where the servers of a group are
ranked by free slots, then by link quality where a B.A.T.M.A.N-adv mesh reports it (TQ, see
``client/mesh.py``), then by name, and the job's own ``preference(candidates)`` hook may
pick one of them. If nothing fits, the job is PENDING: it is placed when a server (re)joins.

Jobs that are placed together (at start, the jobs of a dead server, the PENDING ones when a
server comes back) are taken in :func:`placement_order`: the jobs pinned to a server (a
LocalJob, a ``DEFAULT_NODE``, as every job of an XML_FILE has) before the flexible ones, so a
flexible job cannot take the last slot of the server a pinned job needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fission.core.jobs import BaseJob
from fission.core.network import Network
from fission.core.nodes import BaseNode

__all__ = ["CLIENT", "Placer", "Server", "place", "placement_order", "plan"]

#: The name under which the client itself is a server (it runs the LocalJobs).
CLIENT = "client"


@dataclass
class Server:
    """What placement knows about one server."""

    name: str
    slots: int
    groups: list[str] = field(default_factory=lambda: ["ALL"])
    alive: bool = False
    jobs: set[int] = field(default_factory=set)
    #: Link quality from the mesh (TQ, 0-255); None: not on a mesh, ranked as a perfect link.
    tq: int | None = None

    @property
    def free(self) -> int:
        return self.slots - len(self.jobs)

    @classmethod
    def from_node(cls, node: BaseNode) -> Server:
        return cls(name=node.host, slots=node.slots, groups=node.groups)


def _groups(job: BaseJob) -> list[str]:
    groups = job.GROUPS
    return [groups] if isinstance(groups, str) else list(groups)


def placement_order(jobs: Iterable[BaseJob]) -> list[BaseJob]:
    """``jobs`` in the order they are placed: the pinned ones (LocalJobs, jobs with a
    ``DEFAULT_NODE``) first, then the others; in job-id order within each part."""
    return sorted(jobs, key=lambda job: (not _pinned(job), job.id or 0))


def _pinned(job: BaseJob) -> bool:
    return job.is_local or job.DEFAULT_NODE is not None


def place(job: BaseJob, servers: dict[str, Server]) -> str | None:
    """The server for ``job`` (and book its slot there), or None if nothing fits."""
    assert job.id is not None
    if job.is_local:
        chosen: Server | None = servers.get(CLIENT)
    else:
        chosen = _choose(job, [s for s in servers.values() if s.name != CLIENT])
    if chosen is None or not chosen.alive:
        return None
    chosen.jobs.add(job.id)
    return chosen.name


def _choose(job: BaseJob, servers: Iterable[Server]) -> Server | None:
    candidates = [s for s in servers if s.alive and s.free > 0]
    default = job.DEFAULT_NODE
    for server in candidates:
        if default is not None and server.name == default:
            return server
    for group in _groups(job):
        members = [s for s in candidates if group == "ALL" or group in s.groups]
        if not members:
            continue
        # a server without a TQ is off the mesh (all rank equal) or not measured yet, e.g. one
        # that joined late: then it ranks below every measured one
        unknown = 0 if any(s.tq is not None for s in members) else 255
        members.sort(key=lambda s: (-s.free, -(unknown if s.tq is None else s.tq), s.name))
        preference = getattr(job, "preference", None)
        if callable(preference):
            picked = preference(list(members))
            if isinstance(picked, Server) and picked in members:
                return picked
        return members[0]
    return None


class Placer:
    """Placement state of one run: the servers, and where each job was put."""

    def __init__(self, servers: dict[str, Server]) -> None:
        self.servers = servers
        self.where: dict[int, str] = {}  # job id -> server name

    def place(self, job: BaseJob) -> bool:
        self.release(job)
        name = place(job, self.servers)
        if name is None:
            return False
        assert job.id is not None
        self.where[job.id] = name
        return True

    def release(self, job: BaseJob) -> None:
        name = self.where.pop(job.id, None)  # type: ignore[arg-type]
        if name is not None and name in self.servers:
            self.servers[name].jobs.discard(job.id)  # type: ignore[arg-type]

    def set_link_quality(self, quality: dict[str, int]) -> None:
        """TQ per server name (address), e.g. from :func:`fission.client.mesh.link_quality`."""
        for name, server in self.servers.items():
            if name in quality:
                server.tq = quality[name]

    def set_alive(self, name: str, alive: bool) -> None:
        if name in self.servers:
            self.servers[name].alive = alive


def plan(network: Network) -> dict[int, str | None]:
    """Where each job of ``network`` would run if every server in NODES were alive.

    The same algorithm ``run`` uses at start (LocalJobs on the client); None for a job that
    would be PENDING because no server has room for it.
    """
    servers = {
        node.host: Server.from_node(node)
        for node in network.settings.NODES
        if isinstance(node, BaseNode)
    }
    for server in servers.values():
        server.alive = True
    servers[CLIENT] = Server(CLIENT, slots=1000, groups=["LOCAL"], alive=True)
    placer = Placer(servers)
    where: dict[int, str | None] = {}
    for job in placement_order(network.jobs):
        assert job.id is not None
        where[job.id] = placer.where[job.id] if placer.place(job) else None
    return dict(sorted(where.items()))
