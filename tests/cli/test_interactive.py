"""manage.py <network> interactive: a console with the loaded network, driven through stdin."""

from __future__ import annotations

import shutil

from tests.conftest import DATA

COMMANDS = """\
print("jobs:", [j.name for j in jobs])
print("pipe 105 counts", pipes[105].block_count, "from", job(4).name)
print("nodes:", [n.host for n in nodes], settings.CLIENT_IP)
print("edges:", sorted(network.graph.edges(keys=True)))
1 / 0
print("still running")
"""


def test_console_has_the_network_loaded(project):
    shutil.copytree(DATA / "demo_network_v1", project.root / "demo_network_v1")
    result = project.manage("demo_network_v1", "interactive", input=COMMANDS)
    assert result.returncode == 0, result.stderr
    out = [line.removeprefix(">>> ") for line in result.stdout.splitlines()]
    assert out[:4] == [
        "jobs: ['SourceJob 1', 'SourceJob 2', 'SourceJob 3', 'JoinJob 4', 'ReduceJob 5']",
        "pipe 105 counts 5 from JoinJob 4",
        "nodes: ['192.168.4.2', '192.168.4.3', '192.168.4.4'] 192.168.4.1",
        "edges: [(1, 4, 101), (2, 4, 102), (3, 4, 103), (4, 5, 105)]",
    ]
    assert "still running" in result.stdout  # an error in the console does not end it
    banner = result.stderr.splitlines()
    assert banner[0].startswith("FISSION network demo_network_v1 (")
    assert "  jobs      5: SourceJob 1, SourceJob 2, SourceJob 3, JoinJob 4, ReduceJob 5" in banner
    assert (
        "  pipes     {id: pipe}, 4: PicklePipe(101), PicklePipe(102), PicklePipe(103), "
        "ReducePipe(105)" in banner
    )
    assert "ZeroDivisionError: division by zero" in result.stderr


def test_exit_code_from_the_console(project):
    shutil.copytree(DATA / "demo_network_v1", project.root / "demo_network_v1")
    result = project.manage(
        "demo_network_v1", "interactive", "--plain", input="print(len(jobs))\nexit(3)\n"
    )
    assert result.returncode == 3
    assert result.stdout.startswith(">>> 5\n")


def test_a_broken_config_is_one_line(project):
    project.network("lab", config="JOBS = [1]\n")
    result = project.manage("lab", "interactive", input="")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
