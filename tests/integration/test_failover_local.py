"""Failover on one machine (`simulate --restart`): real job hosts are SIGKILLed mid-stream or
crash, and come back with a new epoch; producers replay what was not acknowledged, consumers
drop what they already have. The sink must see every sqn exactly once, in order."""

from __future__ import annotations

import os
import signal
import time

import pytest

JOBS = """
import os
import time
from fission.core.jobs import PythonJob


class Counter(PythonJob):
    '''A replayable source: after a restart it goes on from the sqn it is told.'''

    def __init__(self, count, pause=0.0, **kwargs):
        super().__init__(**kwargs)
        self.count = count
        self.pause = pause

    def setup(self):
        self.next = 1
        with open("pid", "w") as handle:
            handle.write(str(os.getpid()))

    def resume(self, last_sqn):
        self.next = last_sqn + 1

    def run(self):
        while self.next <= self.count:
            value = self.next
            self.next += 1
            yield value
            if self.pause:
                time.sleep(self.pause)


class Sensor(Counter):
    '''A live source: no resume(), so an outage is a gap.'''

    resume = None


class Pass(PythonJob):
    def setup(self):
        with open("pid", "w") as handle:
            handle.write(str(os.getpid()))

    def run(self, value):
        return value


class Fragile(PythonJob):
    def run(self, value):
        raise RuntimeError(f"cannot take {value}")


class Record(PythonJob):
    def setup(self):
        self.log = open("received.txt", "a")

    def run(self, value):
        self.log.write(f"{value}\\n")
        self.log.flush()

    def teardown(self):
        self.log.close()
"""


def chain(project, source: str = "Counter", middle: str = "Pass", count: int = 3000):
    config = f"""
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Counter, Sensor, Pass, Fragile, Record

JOBS = [
    {source}({count}, 0.001, outputs=[PicklePipe(1)]),
    {middle}(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Pass(inputs=[PicklePipe(2)], outputs=[PicklePipe(3)]),
    Record(inputs=[PicklePipe(3)]),
]
JOB_RESTARTS = 2
CREDIT_WINDOW = 256
"""
    return project.network("net", jobs=JOBS, config=config)


def received(folder) -> list[int]:
    path = folder / "simulation" / "4" / "received.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def wait_received(folder, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(received(folder)) < at_least:
        assert time.monotonic() < deadline, f"only {len(received(folder))} values arrived"
        time.sleep(0.05)


def kill_job(folder, job_id: int) -> None:
    pid = int((folder / "simulation" / str(job_id) / "pid").read_text())
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("victim", [2, 3], ids=["first-middle", "second-middle"])
def test_killed_middle_job_loses_and_duplicates_nothing(project, reap, victim):
    folder = chain(project)
    process = project.start("net", "simulate", "--restart")
    reap.append(process)
    wait_received(folder, 500)
    kill_job(folder, victim)
    assert process.wait(timeout=60) == 0, "\n".join(process.errors)
    assert received(folder) == list(range(1, 3001))
    errors = "\n".join(process.errors)
    assert "(killed by signal 9); restart 1 of 2" in errors
    log = (folder / "simulation" / "FISSION.log").read_text()
    assert "as epoch 2" in log


def test_killed_replayable_source_continues_after_the_acknowledged_sqn(project, reap):
    folder = chain(project)
    process = project.start("net", "simulate", "--restart")
    reap.append(process)
    wait_received(folder, 500)
    kill_job(folder, 1)
    assert process.wait(timeout=60) == 0, "\n".join(process.errors)
    assert received(folder) == list(range(1, 3001))


def test_killed_live_source_leaves_a_flagged_gap(project, reap):
    folder = chain(project, source="Sensor")
    process = project.start("net", "simulate", "--restart")
    reap.append(process)
    wait_received(folder, 500)
    kill_job(folder, 1)
    assert process.wait(timeout=60) == 0, "\n".join(process.errors)
    values = received(folder)
    # the new instance starts its own values again but its numbering went on: the sink saw
    # every sqn once, in order, and the first block after the outage was flagged
    assert len(values) > 3000 - 1 and values[:500] == list(range(1, 501))
    assert "flagged as following lost data" in "\n".join(process.errors)


def test_a_job_that_keeps_failing_is_failed_after_its_restarts(project, reap):
    jobs_extra = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Counter, Pass, Fragile, Record

JOBS = [
    Counter(100000, 0.001, outputs=[PicklePipe(1)]),
    Fragile(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Record(inputs=[PicklePipe(2)]),
    Counter(200, 0.001, outputs=[PicklePipe(3)]),
    Record(inputs=[PicklePipe(3)]),
]
JOB_RESTARTS = 2
"""
    folder = project.network("net", jobs=JOBS, config=jobs_extra)
    process = project.start("net", "simulate", "--restart")
    reap.append(process)
    deadline = time.monotonic() + 30
    while "is FAILED after 2 restart(s)" not in "\n".join(process.errors):
        assert time.monotonic() < deadline, "\n".join(process.errors)
        time.sleep(0.1)
    errors = "\n".join(process.errors)
    assert "restart 1 of 2" in errors and "restart 2 of 2 in 0.5 s" in errors
    assert "RuntimeError: cannot take 1" in errors  # the traceback, named by job
    # the independent branch kept running to its end
    other = folder / "simulation" / "5" / "received.txt"
    deadline = time.monotonic() + 30
    while not other.exists() or len(other.read_text().split()) < 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=5) == 1  # a job failed
