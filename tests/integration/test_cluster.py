"""`run` over a real Ray cluster on emulated hosts (`emulate`: network namespaces, real
`fission server` processes), with real faults: a server's processes SIGKILLed, a server's link
cut. The sink runs on the client (a LocalJob) and must see every sqn exactly once, in order.

Placement is deterministic here (three servers with two slots each, jobs placed in order on the
server with most free slots, then by name): s1 runs the source, s2 the first middle job, s3 the
second one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="emulated hosts need root")

JOBS = """
import os
import time
from pathlib import Path

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
    DEPENDENCIES = "assets"  # copied into its working folder on whichever server runs it

    def setup(self):
        self.factor = int(Path("factor.txt").read_text())

    def run(self, value):
        return value * self.factor

    def teardown(self):
        print(f"{self.id} passed them all on")  # its last words must reach the client
        print(f"{self.id} ran at nice {os.nice(0)}")  # not Ray's nice 15 for its workers


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


def config(slots: int = 2, middle: str = "Pass", count: int = 1500, pre_copy: bool = False) -> str:
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
PRE_COPY = {pre_copy}
"""


def emulate(project, *faults: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return project.manage("chain", "emulate", "--servers", "3", *faults, timeout=timeout)


def received(project) -> list[int]:
    path = project.root / "chain" / "run" / "4" / "received.txt"
    return [int(line) for line in path.read_text().split()]


@pytest.fixture
def chain(project, tmp_path):
    def make(**kwargs) -> None:
        text = config(**kwargs).replace("{root}", str(tmp_path / "servers"))
        project.network("chain", jobs=JOBS, config=text)
        (project.root / "assets").mkdir(exist_ok=True)
        (project.root / "assets" / "factor.txt").write_text("1\n")

    return make


def test_network_runs_on_emulated_servers(project, chain):
    chain(pre_copy=True)  # every server gets the project (and a warm actor) before placement
    result = emulate(project)
    assert result.returncode == 0, result.stderr
    assert "servers joined: 3/3" in result.stderr and "all 4 jobs running" in result.stderr
    assert received(project) == list(range(1, 1501))
    log = (project.root / "chain" / "run" / "FISSION.log").read_text()
    assert "ready at tcp:10.213.0.2:" in log  # a job host on an emulated server
    for job in (2, 3):
        job_log = (project.root / "chain" / "run" / str(job) / "job.log").read_text()
        assert f"{job} passed them all on" in job_log
        assert f"{job} ran at nice 0" in job_log


@pytest.mark.parametrize(
    ("fault", "moved"),
    [("--kill=s2@1.5", "Pass 2"), ("--kill=s1@1.5", "Counter 1"), ("--cut=s3@1.5", "Pass 3")],
    ids=["kill-middle-server", "kill-source-server", "cut-middle-server"],
)
def test_failover_loses_and_duplicates_nothing(project, chain, fault, moved):
    chain()
    result = emulate(project, fault)
    assert result.returncode == 0, result.stderr
    # a killed server is noticed by Ray or by its silence, whichever is first; a cut one by
    # its silence (Ray's health checks take longer to give up on it)
    assert ("is unreachable" if "cut" in fault else "is ") in result.stderr
    assert "is dead" in result.stderr or "is unreachable" in result.stderr
    assert f"{moved}: its server" in result.stderr and "moving it" in result.stderr
    assert received(project) == list(range(1, 1501))  # every sqn once, in order
    # the emulate report: detection, the outage the sink saw, nothing lost or duplicated
    assert re.search(
        r"detected after [0-9.]+ s; \d+ job restart\(s\); outage at the sinks [0-9.]+ s",
        result.stderr,
    )
    assert (
        "at the sinks: 0 block(s) lost (gaps), 0 flagged after a live source's outage, 0 duplicated"
        in result.stderr
    )


def test_a_job_that_always_raises_ends_failed_and_the_rest_keeps_running(project, chain):
    chain(middle="Fragile")
    result = emulate(project, "--seconds=25")
    # JOB_RESTARTS = 2: two restarts with a pause, then FAILED with its traceback
    assert result.stderr.count("restart 1 of 2") == 1 and "restart 2 of 2" in result.stderr
    assert "Fragile 2 is FAILED after 2 restart(s); the rest keeps running" in result.stderr
    assert "RuntimeError: cannot take 1" in result.stderr
    assert "25 s are over; stopping" in result.stderr  # the others ran on until stopped
    assert result.returncode == 1


def test_no_capacity_left_makes_the_job_pending_until_a_server_rejoins(project, chain):
    chain(slots=1)
    result = emulate(project, "--kill=s2@1.5", "--revive=s2@5", timeout=150)
    assert result.returncode == 0, result.stderr
    # the orphaned middle job cannot be placed: PENDING while the others keep running ...
    assert "Pass 2 is PENDING: no server has room for it" in result.stderr
    # ... and placed when its server is back; the data flows again, nothing lost or doubled
    assert "server 192.168.4.3 is back" in result.stderr
    assert received(project) == list(range(1, 1501))


def test_clear_errors_for_a_cluster_that_cannot_work(project, chain, tmp_path):
    from fission.client.cluster import cluster_token, start_head
    from fission.emulation.netns import EmulatedNetwork

    chain()
    token = cluster_token(project.root)
    short = Path(tempfile.mkdtemp(prefix="ft"))  # Ray's socket paths must fit in 107 bytes
    wrong = tmp_path / "wrong-token"
    wrong.write_text("f" * 64)
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_USAGE_STATS_ENABLED="0")
    script = str(os.path.join(os.path.dirname(sys.executable), "fission"))
    with EmulatedNetwork(["client", "s1", "s2"]) as net:
        client, s1, s2 = net.hosts["client"], net.hosts["s1"], net.hosts["s2"]
        start_head(client.address, env, temp_dir=short / "h", wrap=client.command([]))
        # a server with the wrong token is refused, and says so
        refused = subprocess.run(
            s1.command([script, "server", "--client", client.address, "--address", s1.address,
                        "--token-file", str(wrong), "--temp-dir", str(short / "a")]),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode != 0
        assert "refused this server's token" in refused.stderr
        # a server that is not in NODES joins but gets nothing; the others never come
        net.start("s2", [script, "server", "--client", client.address, "--address", s2.address,
                         "--name", "stranger", "--token-file",
                         str(project.root / ".fission" / "token"),
                         "--temp-dir", str(short / "b")],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        waited = subprocess.run(
            client.command([sys.executable, "manage.py", "chain", "run", "--ray-address",
                            f"{client.address}:6379", "--client-ip", client.address,
                            "--wait", "12"]),
            cwd=project.root, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert waited.returncode != 0
        assert "not in NODES, so given no jobs: stranger" in waited.stderr
        assert "server(s) 192.168.4.2, 192.168.4.3, 192.168.4.4 did not join within 12 s" in (
            waited.stderr
        )
        assert "fission server --client 10.213.0.1" in waited.stderr


def test_run_without_ray_says_which_extra_to_install(project, chain, tmp_path):
    # A Python where Ray cannot be imported (as when the extra is not installed).
    blocker = tmp_path / "no-ray" / "ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    chain()
    env = dict(os.environ, PYTHONPATH=str(blocker.parent))
    result = subprocess.run(
        [sys.executable, "manage.py", "chain", "run"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "pip install 'fission-streams[cluster]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_source_and_its_consumer_lost_together(project, chain):
    # both pinned to the first server, which is killed: neither replay buffer survives; the
    # source goes on from what the jobs after them hold (the client's hint), nothing is lost
    chain()
    jobs = project.root / "chain" / "jobs" / "jobs.py"
    text = jobs.read_text()
    text = text.replace(
        "class Counter(PythonJob):\n",
        'class Counter(PythonJob):\n    DEFAULT_NODE = "192.168.4.2"\n',
    )
    text = text.replace(
        "class Pass(PythonJob):\n", 'class Pass(PythonJob):\n    DEFAULT_NODE = "192.168.4.2"\n'
    )
    jobs.write_text(text)
    result = emulate(project, "--kill=s1@2")
    assert result.returncode == 0, result.stderr
    assert "Counter 1: its server" in result.stderr and "Pass 2: its server" in result.stderr
    assert received(project) == list(range(1, 1501))
