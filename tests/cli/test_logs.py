"""logs and collect: the jobs' logs of a real run, shown, followed and gathered by server."""

from __future__ import annotations

import os
import signal
import time
import types

import pytest
from tests.conftest import wait_for_line

from fission.client.collection import collect
from fission.client.output import JobOutput
from fission.client.rundir import note_server, prepare_run_folder, read_info
from fission.core.jobs import PythonJob
from fission.core.network import Network
from fission.core.pipes import PicklePipe
from fission.core.settings import Settings

JOBS = """
from fission.core.jobs import PythonJob

WORD = "first"


class Count(PythonJob):
    def run(self):
        for number in (1, 2, 3):
            print(f"{WORD} count {number}")
            yield number


class Total(PythonJob):
    def setup(self):
        self.total = 0

    def run(self, number):
        self.total += number
        print(f"{WORD} total {self.total}")
        if number == 3:
            self.finish()
"""

CONFIG = """
from fission.core.pipes import PicklePipe

from lab.jobs.jobs import Count, Total

JOBS = [Count(outputs=[PicklePipe(1)]), Total(inputs=[PicklePipe(1)])]
"""


@pytest.fixture
def lab(project):
    project.network("lab", jobs=JOBS, config=CONFIG)
    return project


def simulate(project):
    result = project.manage("lab", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr


def texts(lines):
    """The text of log lines, without the time and mark (``HH:MM:SS? ``)."""
    return [line.split("] ", 1)[-1].lstrip()[10:] for line in lines]


def test_logs_of_all_jobs_are_prefixed_and_merged(lab):
    simulate(lab)
    result = lab.manage("lab", "logs")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    count = [line for line in lines if line.startswith("[Count 1] ")]
    total = [line for line in lines if line.startswith("[Total 2] ")]
    assert len(count) + len(total) == len(lines)
    assert texts(count) == [
        "epoch 1 runs on local",
        "first count 1",
        "first count 2",
        "first count 3",
    ]
    assert texts(total) == [
        "epoch 1 runs on local",
        "first total 1",
        "first total 3",
        "first total 6",
    ]
    stamps = [line.split("] ", 1)[1].lstrip()[:8] for line in lines]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("selector", ["2", "Total", "Total 2"])
def test_logs_of_one_job_by_id_or_class(lab, selector):
    simulate(lab)
    result = lab.manage("lab", "logs", selector)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line[10:] for line in lines] == [
        "epoch 1 runs on local",
        "first total 1",
        "first total 3",
        "first total 6",
    ]
    assert lines[1][8:10] == "  " and lines[0][8] == "#"  # stdout line, FISSION's note


def test_logs_errors(lab):
    missing = lab.manage("lab", "logs")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no run to show" in missing.stderr
    assert "python3 manage.py lab simulate" in missing.stderr
    simulate(lab)
    unknown = lab.manage("lab", "logs", "Nope")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "Error: no job 'Nope' in this run (its jobs: Count 1, Total 2); give a job's id or "
        "class name\n"
    )


def test_logs_follow_waits_for_a_run_and_picks_up_the_next_one(lab, reap):
    follower = lab.start("lab", "logs", "-f")
    reap.append(follower)
    deadline = time.monotonic() + 20
    while not any("waiting for one" in line for line in follower.errors):
        assert time.monotonic() < deadline and follower.poll() is None, follower.errors
        time.sleep(0.05)
    simulate(lab)
    wait_for_line(follower, "first total 6", timeout=20)
    # a new run recreates the folder: the follower starts over with the new files
    jobs = lab.root / "lab" / "jobs" / "jobs.py"
    jobs.write_text(jobs.read_text().replace('WORD = "first"', 'WORD = "second"'))
    simulate(lab)
    lines = wait_for_line(follower, "second total 6", timeout=20)
    assert sum("following the run in" in line for line in follower.errors) == 2
    assert [text for text in texts(lines) if text.endswith("total 6")] == [
        "first total 6",
        "second total 6",
    ]
    os.killpg(follower.pid, signal.SIGINT)
    assert follower.wait(timeout=10) == 0
    assert not any("Traceback" in line for line in follower.errors)


def test_collect_after_simulate(lab):
    simulate(lab)
    result = lab.manage("lab", "collect")
    assert result.returncode == 0, result.stderr
    target = lab.root / "lab" / "collection"
    assert "collected 2 job log(s)" in result.stderr
    files = {str(p.relative_to(target)) for p in target.rglob("*")}
    assert files == {
        ".fission-collection",
        "info.txt",
        "FISSION.log",
        "local",
        "local/1-Count.log",
        "local/2-Total.log",
    }
    assert "first total 6" in (target / "local" / "2-Total.log").read_text()
    assert "all 2 jobs ready" in (target / "FISSION.log").read_text()
    # collecting again replaces the collection; a foreign folder is never emptied
    assert lab.manage("lab", "collect").returncode == 0
    (target / ".fission-collection").unlink()
    refused = lab.manage("lab", "collect")
    assert refused.returncode == 2 and "was not made by collect" in refused.stderr


def test_collect_with_nothing_run(lab):
    result = lab.manage("lab", "collect")
    assert result.returncode == 2 and "nothing to collect" in result.stderr


class Source(PythonJob):
    def run(self):
        yield 1


class Sink(PythonJob):
    def run(self, value):
        pass


def test_collect_splits_a_moved_job_by_server(tmp_path):
    # A run folder written by the same functions the supervisor uses when a job's server dies
    # and the job moves: epoch 1 on one server, epoch 2 on another.
    pipe = PicklePipe(1)
    config = types.ModuleType("config")
    config.JOBS = [Source(outputs=[pipe]), Sink(inputs=[pipe])]
    network = Network.build("lab", config.JOBS, Settings.from_module(config))
    run = tmp_path / "run"
    prepare_run_folder(network, run)
    outputs = {
        job.id: JobOutput(job.name, run / str(job.id) / "job.log", None, 6) for job in network.jobs
    }
    note_server(run, 1, 1, "10.0.0.2")
    outputs[1].note("epoch 1 runs on 10.0.0.2")
    note_server(run, 2, 1, "client")
    outputs[2].note("epoch 1 runs on client")
    outputs[1].feed("out", b"before the move\n")
    note_server(run, 1, 2, "10.0.0.3")
    outputs[1].note("epoch 2 runs on 10.0.0.3")
    outputs[1].feed("out", b"after the move\n")
    for output in outputs.values():
        output.close()
    info = read_info(run)
    assert info.servers == {1: [(1, "10.0.0.2"), (2, "10.0.0.3")], 2: [(1, "client")]}
    collected = collect(run, tmp_path / "collection")
    assert {server: [p.name for p in files] for server, files in collected.files.items()} == {
        "10.0.0.2": ["1-Source.log"],
        "10.0.0.3": ["1-Source.log"],
        "client": ["2-Sink.log"],
    }
    first = (tmp_path / "collection" / "10.0.0.2" / "1-Source.log").read_text()
    second = (tmp_path / "collection" / "10.0.0.3" / "1-Source.log").read_text()
    assert "before the move" in first and "after the move" not in first
    assert "after the move" in second and "before the move" not in second


def test_a_restarted_job_notes_each_instance(project):
    jobs = JOBS.replace(
        "        self.total = 0\n",
        "        self.total = 0\n"
        "        import pathlib\n"
        "        flag = pathlib.Path('../crashed-once')\n"
        "        if not flag.exists():\n"
        "            flag.touch()\n"
        "            raise RuntimeError('first start fails')\n",
    )
    project.network("lab", jobs=jobs, config=CONFIG)
    result = project.manage("lab", "simulate", "--restart", timeout=60)
    assert result.returncode == 0, result.stderr
    run = project.root / "lab" / "simulation"
    assert read_info(run).servers == {1: [(1, "local")], 2: [(1, "local"), (2, "local")]}
    shown = project.manage("lab", "logs", "Total").stdout.splitlines()
    notes = [line[10:] for line in shown if line[8] == "#" and "runs on" in line]
    assert notes == ["epoch 1 runs on local", "epoch 2 runs on local"]


SLOW_JOBS = """
import time

from fission.core.jobs import PythonJob


class Count(PythonJob):
    def run(self):
        for number in range(1, 101):
            print(f"count {number}")
            yield number
            time.sleep(0.05)


class Total(PythonJob):
    def run(self, number):
        print(f"got {number}")
"""


def test_logs_follow_shows_lines_while_the_network_runs(project, reap):
    project.network("lab", jobs=SLOW_JOBS, config=CONFIG)
    follower = project.start("lab", "logs", "-f", "Total")
    reap.append(follower)
    running = project.start("lab", "simulate")
    reap.append(running)
    wait_for_line(follower, "got 10", timeout=30)
    assert running.poll() is None  # seen while the network still runs (5 s in all)
    assert not any("count" in line for line in follower.lines)  # only the job asked for
    os.killpg(follower.pid, signal.SIGINT)
    assert follower.wait(timeout=10) == 0
    os.killpg(running.pid, signal.SIGINT)
    assert running.wait(timeout=20) == 0
