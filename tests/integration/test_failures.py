"""A job that raises, fails in setup, breaks the return contract or is killed: the run stops
cleanly with a non-zero exit, the traceback names the job, and nothing hangs or stays behind."""

from __future__ import annotations

import os
import signal
import time

from tests.conftest import alive, descendants

JOBS = """
import time
from fission.core.jobs import PythonJob


class Count(PythonJob):
    def run(self):
        value = 0
        while True:
            value += 1
            yield value
            time.sleep(0.01)


class Boom(PythonJob):
    def run(self, value):
        if value == 3:
            raise ValueError(f"cannot handle {value}")
        return value


class BadSetup(PythonJob):
    def setup(self):
        raise RuntimeError("no sensor attached")

    def run(self, value):
        return value


class Pair(PythonJob):
    def run(self, value):
        return (value, value)


class Slow(PythonJob):
    def run(self, value):
        print("got", value, flush=True)


class Sleeper(PythonJob):
    def run(self, value):
        time.sleep(3600)
"""


def network(project, middle: str):
    config = f"""
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Count, {middle}, Slow

JOBS = [
    Count(outputs=[PicklePipe(1)]),
    {middle}(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]),
    Slow(inputs=[PicklePipe(2)]),
]
DEBUG_WINDOW = True
"""
    return project.network("net", jobs=JOBS, config=config)


def test_exception_in_run_stops_everything(project):
    folder = network(project, "Boom")
    started = time.monotonic()
    result = project.manage("net", "simulate", timeout=30)
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert (
        "job Boom 2 failed: Boom 2.run() raised ValueError in round 3: cannot handle 3"
        in result.stderr
    )
    assert "[Boom 2]     raise ValueError" in result.stderr  # the user's line, named by job
    assert 'jobs.py", line' in result.stderr
    assert "fission/runtime" not in result.stderr  # our frames are left out
    log = (folder / "simulation" / "2" / "job.log").read_text()
    assert "ValueError: cannot handle 3" in log


def test_exception_in_setup(project):
    network(project, "BadSetup")
    result = project.manage("net", "simulate", timeout=30)
    assert result.returncode == 1
    assert "BadSetup 2.setup() raised RuntimeError: no sensor attached" in result.stderr


def test_wrong_tuple_length_is_explained(project):
    network(project, "Pair")
    result = project.manage("net", "simulate", timeout=30)
    assert result.returncode == 1
    assert "Pair 2.run returned a tuple of 2 values but the job has 1 output(s)" in result.stderr
    assert "return (value,)" in result.stderr


def test_killed_job_host_is_reported(project, reap):
    network(project, "Sleeper")
    process = project.start("net", "simulate")
    reap.append(process)
    deadline = time.monotonic() + 20
    log = project.root / "net" / "simulation" / "FISSION.log"
    while time.monotonic() < deadline:
        if log.exists() and "all 3 jobs ready" in log.read_text():
            break
        time.sleep(0.05)
    hosts = descendants(process.pid)
    # find the Sleeper's process through its working directory
    victim = next(pid for pid in hosts if os.readlink(f"/proc/{pid}/cwd").endswith("/simulation/2"))
    os.kill(victim, signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == 1
    time.sleep(0.2)
    assert (
        "job Sleeper 2 died: the job's process ended unexpectedly (killed by signal 9)"
        in "\n".join(process.errors)
    )
    assert not alive(hosts)


def test_a_sleeping_job_is_stopped_within_two_seconds(project, reap):
    network(project, "Sleeper")
    process = project.start("net", "simulate")
    reap.append(process)
    time.sleep(1.5)
    hosts = descendants(process.pid)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=5)
    assert time.monotonic() - started < 2.0
    time.sleep(0.1)
    assert not alive(hosts)
