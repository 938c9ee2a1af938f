"""`emulate` with NODES that are not one plain node per server: a CSV inventory and a MultiNode
pattern. The emulated servers take the inventory's address and names made up from the pattern,
`run` matches them as it would real servers, and the jobs run there (real Ray cluster in
network namespaces, as in test_cluster.py; needs root)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="emulated hosts need root")

JOBS = """
import time

from fission.core.jobs import LocalJob, PythonJob


class Counter(PythonJob):
    def run(self):
        for value in range(1, 301):
            yield value
            time.sleep(0.002)


class Double(PythonJob):
    def run(self, value):
        return 2 * value


class Record(LocalJob, PythonJob):
    def setup(self):
        self.out = open("received.txt", "a")

    def run(self, value):
        self.out.write(f"{value}\\n")
        self.out.flush()
"""

CONFIG = """
from fission.core.nodes import MultiNode
from fission.core.pipes import PicklePipe
from pis.jobs.jobs import Counter, Double, Record

CLIENT_IP = "192.168.4.1"
JOBS = [
    Counter(outputs=[PicklePipe(1)]),
    Double(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Record(inputs=[PicklePipe(2)]),
]
NODES = ["servers.csv", MultiNode("pi-{1..9}", slots=1)]
REMOTE_ROOT = "{root}"
"""


def test_inventory_and_multinode_servers_run_the_jobs(project, tmp_path):
    folder = project.network(
        "pis", jobs=JOBS, config=CONFIG.replace("{root}", str(tmp_path / "servers"))
    )
    (folder / "servers.csv").write_text("host,slots\n192.168.4.2,1\n")
    result = project.manage("pis", "emulate", "--servers", "2", timeout=150)
    assert result.returncode == 0, result.stderr
    # one plain node (from the inventory), so the second server is named from the pattern
    assert "servers s1=10.213.0.2 (as 192.168.4.2), s2=10.213.0.3 (as pi-1)" in result.stderr
    assert "servers joined: 2/2" in result.stderr and "all 3 jobs running" in result.stderr
    run = folder / "run"
    assert (run / "3" / "received.txt").read_text().split() == [str(2 * v) for v in range(1, 301)]
    # one slot each: placement (by name) put the source on the inventory's server and the
    # middle job on the MultiNode's
    info = (run / "info.txt").read_text()
    assert "job 1 epoch 1 runs on 192.168.4.2" in info
    assert "job 2 epoch 1 runs on pi-1" in info


def test_a_server_joining_after_the_start_takes_the_pending_job(project, tmp_path):
    # one slot on the only server up at the start: the middle job waits (PENDING) until a
    # server that the MultiNode matches joins, then runs there; nothing is lost meanwhile
    folder = project.network(
        "pis", jobs=JOBS, config=CONFIG.replace("{root}", str(tmp_path / "servers"))
    )
    (folder / "servers.csv").write_text("host,slots\n192.168.4.2,1\n")
    result = project.manage("pis", "emulate", "--servers", "2", "--join", "pi-1@2", timeout=150)
    assert result.returncode == 0, result.stderr
    assert "servers joined: 1/1" in result.stderr  # run did not wait for pi-1
    assert "Double 2 is PENDING: no server has room for it" in result.stderr
    assert "fission: emulate: join s2" in result.stderr
    assert "server pi-1 joined" in result.stderr
    run = folder / "run"
    assert (run / "3" / "received.txt").read_text().split() == [str(2 * v) for v in range(1, 301)]
    assert "job 2 epoch 1 runs on pi-1" in (run / "info.txt").read_text()
