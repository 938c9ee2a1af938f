"""Placement order: jobs pinned to a server (DEFAULT_NODE, LocalJob) are placed before the
flexible ones, at start and whenever several jobs are placed again, in the planner and in the
supervisor."""

from __future__ import annotations

from fission.client.placement import CLIENT, Placer, Server, placement_order
from fission.client.supervisor import Simulation
from fission.core.jobs import LocalJob, PythonJob
from fission.core.loader import load_network


class Work(PythonJob):
    def run(self, value):
        return value


class Show(LocalJob, PythonJob):
    def run(self, value):
        print(value)


def _job(number: int, kind: type = Work, default_node: str | None = None) -> PythonJob:
    job = kind()
    job.id = number
    if default_node is not None:
        job.DEFAULT_NODE = default_node  # as an XML_FILE's job gets its pi_id
    return job


def _servers() -> dict[str, Server]:
    servers = {name: Server(name, slots=1, alive=True) for name in ("10.0.0.1", "10.0.0.2")}
    servers[CLIENT] = Server(CLIENT, slots=1000, groups=["LOCAL"], alive=True)
    return servers


def test_pinned_jobs_come_first_in_job_id_order():
    flexible, pinned, local, other = (
        _job(1),
        _job(2, default_node="10.0.0.1"),
        _job(3, Show),
        _job(4),
    )
    order = placement_order([other, local, flexible, pinned])
    assert [job.id for job in order] == [2, 3, 1, 4]


def test_a_pinned_job_gets_its_slot_before_a_flexible_job_with_a_lower_id():
    flexible, pinned = _job(1), _job(2, default_node="10.0.0.1")
    # in job-id order the flexible job takes 10.0.0.1 (most free slots, then by name) and the
    # pinned one is pushed off its server
    by_id = Placer(_servers())
    assert by_id.place(flexible) and by_id.place(pinned)
    assert by_id.where == {1: "10.0.0.1", 2: "10.0.0.2"}
    # placement order: each where it belongs
    placer = Placer(_servers())
    assert all(placer.place(job) for job in placement_order([flexible, pinned]))
    assert placer.where == {2: "10.0.0.1", 1: "10.0.0.2"}


def test_when_room_is_short_the_flexible_job_waits_not_the_pinned_one():
    servers = _servers()
    del servers["10.0.0.2"]
    placer = Placer(servers)
    jobs = placement_order([_job(1), _job(2, default_node="10.0.0.1")])
    assert [placer.place(job) for job in jobs] == [True, False]
    assert placer.where == {2: "10.0.0.1"}  # job 1 is PENDING
    # the server dies and comes back: its job and the PENDING one are placed again, in order
    placer.set_alive("10.0.0.1", False)
    placer.release(jobs[0])
    placer.set_alive("10.0.0.1", True)
    assert [placer.place(job) for job in jobs] == [True, False]
    assert placer.where == {2: "10.0.0.1"}


JOBS = """
from fission.core.jobs import PythonJob


class Count(PythonJob):
    def run(self):
        yield from range(1, 4)


class Keep(PythonJob):
    DEFAULT_NODE = "10.0.0.1"

    def run(self, value):
        with open("kept.txt", "a") as kept:
            kept.write(f"{value}\\n")
"""

CONFIG = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Count, Keep

JOBS = [Count(outputs=[PicklePipe(1)]), Keep(inputs=[PicklePipe(1)])]
"""


def test_the_supervisor_starts_pinned_jobs_first(tmp_path):
    # a real run on this machine (local job hosts) with the placement `run` would do: the
    # pinned Keep (job 2) gets 10.0.0.1's slot, the flexible Count (job 1) the other server
    for folder in ("net", "net/jobs"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "net" / "jobs" / "jobs.py").write_text(JOBS)
    (tmp_path / "net" / "config.py").write_text(CONFIG)
    network = load_network(tmp_path, "net")
    placer = Placer(_servers())
    lines: list[str] = []
    supervisor = Simulation(
        network, tmp_path / "net" / "simulation", "ab" * 32, status=lines.append, placer=placer
    )
    assert supervisor.run() == 0, lines
    assert placer.where == {2: "10.0.0.1", 1: "10.0.0.2"}
    assert (tmp_path / "net" / "simulation" / "2" / "kept.txt").read_text().split() == [
        "1",
        "2",
        "3",
    ]


def test_a_server_without_link_quality_ranks_below_measured_ones_on_a_mesh():
    # e.g. a server that joined after the run started: its TQ was never measured
    servers = {
        "10.0.0.1": Server("10.0.0.1", slots=1, alive=True),
        "10.0.0.2": Server("10.0.0.2", slots=1, alive=True),
    }
    servers["10.0.0.2"].tq = 180
    placer = Placer(servers)
    assert placer.place(_job(1)) and placer.where[1] == "10.0.0.2"
    # off a mesh (no TQ anywhere), names decide
    plain = Placer({n: Server(n, slots=1, alive=True) for n in ("10.0.0.2", "10.0.0.1")})
    assert plain.place(_job(2)) and plain.where[2] == "10.0.0.1"
