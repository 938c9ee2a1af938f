"""manage.py <network> test: the network's own tests, with FISSION's pytest fixtures."""

from __future__ import annotations

import textwrap

JOBS = """
from fission.core.jobs import PythonJob


class Count(PythonJob):
    def run(self):
        yield from range(1, 7)


class Double(PythonJob):
    def run(self, value):
        return 2 * value


class Total(PythonJob):
    def run(self, values):
        return sum(values)


class Show(PythonJob):
    def run(self, value):
        print("total", value)
"""

CONFIG = """
from fission.core.pipes import PicklePipe

from lab.jobs.jobs import Count, Double, Show, Total
from lab.pipes.pipes import Batch

JOBS = [
    Count(outputs=[PicklePipe(1)]),
    Double(inputs=[PicklePipe(1)], outputs=[Batch(2)]),
    Total(inputs=[Batch(2)], outputs=[PicklePipe(3)]),
    Double(inputs=[PicklePipe(3)], outputs=[PicklePipe(4)]),
    Show(inputs=[PicklePipe(4)]),
]
"""

PIPES = """
from fission.core.pipes import PicklePipe


class Batch(PicklePipe):
    BLOCK_COUNT = 3
"""

NETWORK_TESTS = """
def test_the_whole_network_from_config(fission_network, run_jobs, capsys):
    names = [job.name for job in fission_network.jobs]
    assert names == ["Count 1", "Double 2", "Total 3", "Double 4", "Show 5"]
    result = run_jobs()
    assert result.of("Show").calls == [(24,), (60,)]
    assert capsys.readouterr().out == "total 24\\ntotal 60\\n"


def test_part_of_the_network_by_name(run_jobs):
    result = run_jobs(["Total", 4], inputs={2: [1, 1, 1, 2, 2, 2]})
    assert result.outputs == {4: [6, 12]}
    assert result.of("Total 3").calls == [([1, 1, 1],), ([2, 2, 2],)]
"""


def test_a_new_network_passes_its_example_tests(project):
    project.manage("lab", "startnetwork")
    result = project.manage("lab", "test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_a_broken_job_fails_with_pytests_report(project):
    project.manage("lab", "startnetwork")
    jobs = project.root / "lab" / "jobs" / "jobs.py"
    jobs.write_text(jobs.read_text().replace("return 2 * value", "return 3 * value"))
    result = project.manage("lab", "test")
    assert result.returncode == 1
    assert "assert [3, 6, 9] == [2, 4, 6]" in result.stdout
    assert "FAILED lab/tests/test_jobs.py::test_double_sends_on_twice_each_value" in result.stdout
    assert "FAILED lab/tests/test_jobs.py::test_double_then_total" in result.stdout
    assert "2 failed, 1 passed" in result.stdout


def test_tests_use_the_networks_config(project):
    folder = project.network("lab", jobs=JOBS, config=CONFIG, pipes=PIPES)
    (folder / "tests" / "test_network.py").write_text(textwrap.dedent(NETWORK_TESTS))
    result = project.manage("lab", "test", "test_network.py", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout and "test_jobs.py" not in result.stdout


def test_pytest_options_pass_through(project):
    project.manage("lab", "startnetwork")
    result = project.manage("lab", "test", "-k", "total", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 1 deselected" in result.stdout
    assert project.manage("lab", "test", "-k", "nothing_matches").returncode == 5


def test_a_network_without_tests(project):
    folder = project.network("lab")
    for item in (folder / "tests").iterdir():
        item.unlink()
    (folder / "tests").rmdir()
    result = project.manage("lab", "test")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: network lab has no tests folder (")
    assert result.stderr.count("\n") == 1


def test_help(project):
    project.manage("lab", "startnetwork")
    result = project.manage("lab", "test", "--help")
    assert result.returncode == 0 and "PYTEST_ARGS" in result.stdout
