"""`run` over a real Ray cluster on emulated hosts (`emulate`: network namespaces, real
`fission server` processes), with real faults: a server's processes SIGKILLed, a server's link
cut. The sink runs on the client (a LocalJob) and must see every sqn exactly once, in order.

Placement is deterministic here (three servers with two slots each, jobs placed in order on the
server with most free slots, then by name): s1 runs the source, s2 the first middle job, s3 the
second one.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="emulated hosts need root")

JOBS = """
import time
from fission.core.jobs import LocalJob, PythonJob


class Counter(PythonJob):
    def __init__(self, count, pause, **kwargs):
        super().__init__(**kwargs)
        self.count = count
        self.pause = pause

    def setup(self):
        self.next = 1

    def resume(self, last_sqn):
        self.next = last_sqn + 1

    def run(self):
        while self.next <= self.count:
            value = self.next
            self.next += 1
            yield value
            time.sleep(self.pause)


class Pass(PythonJob):
    def run(self, value):
        return value


class Fragile(PythonJob):
    def run(self, value):
        raise RuntimeError(f"cannot take {value}")


class Record(LocalJob, PythonJob):
    def setup(self):
        self.out = open("received.txt", "a")

    def run(self, value):
        self.out.write(f"{value}\\n")
        self.out.flush()
"""


def config(slots: int = 2, middle: str = "Pass", count: int = 1500) -> str:
    return f"""
from fission.core.nodes import BaseNode
from fission.core.pipes import PicklePipe
from chain.jobs.jobs import Counter, Pass, Fragile, Record

CLIENT_IP = "192.168.4.1"
JOBS = [
    Counter({count}, 0.002, outputs=[PicklePipe(1)]),
    {middle}(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Pass(inputs=[PicklePipe(2)], outputs=[PicklePipe(3)]),
    Record(inputs=[PicklePipe(3)]),
]
NODES = [
    BaseNode("192.168.4.2", slots={slots}),
    BaseNode("192.168.4.3", slots={slots}),
    BaseNode("192.168.4.4", slots={slots}),
]
JOB_RESTARTS = 2
REMOTE_ROOT = "{{root}}"
"""


def emulate(project, *faults: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "chain", "emulate", "--servers", "3", *faults],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def received(project) -> list[int]:
    path = project.root / "chain" / "run" / "4" / "received.txt"
    return [int(line) for line in path.read_text().split()]


@pytest.fixture
def chain(project, tmp_path):
    def make(**kwargs) -> None:
        text = config(**kwargs).replace("{root}", str(tmp_path / "servers"))
        project.network("chain", jobs=JOBS, config=text)

    return make


def test_network_runs_on_emulated_servers(project, chain):
    chain()
    result = emulate(project)
    assert result.returncode == 0, result.stderr
    assert "servers joined: 3/3" in result.stderr and "all 4 jobs running" in result.stderr
    assert received(project) == list(range(1, 1501))
    log = (project.root / "chain" / "run" / "FISSION.log").read_text()
    assert "ready at tcp:10.213.0.2:" in log  # a job host on an emulated server


@pytest.mark.parametrize(
    ("fault", "moved"),
    [("--kill=s2@1.5", "Pass 2"), ("--kill=s1@1.5", "Counter 1"), ("--cut=s3@1.5", "Pass 3")],
    ids=["kill-middle-server", "kill-source-server", "cut-middle-server"],
)
def test_failover_loses_and_duplicates_nothing(project, chain, fault, moved):
    chain()
    result = emulate(project, fault)
    assert result.returncode == 0, result.stderr
    assert "is dead" in result.stderr
    assert f"{moved}: its server" in result.stderr and "restart 1 of 2" in result.stderr
    assert received(project) == list(range(1, 1501))  # every sqn once, in order
    assert "detected after" in result.stderr  # the emulate report


def test_no_capacity_left_makes_the_job_pending_until_a_server_rejoins(project, chain):
    chain(slots=1)
    result = emulate(project, "--kill=s2@1.5", "--revive=s2@5", timeout=150)
    assert result.returncode == 0, result.stderr
    # the orphaned middle job cannot be placed: PENDING while the others keep running ...
    assert "Pass 2 is PENDING: no server has room for it" in result.stderr
    # ... and placed when its server is back; the data flows again, nothing lost or doubled
    assert "server 192.168.4.3 is back" in result.stderr
    assert received(project) == list(range(1, 1501))
