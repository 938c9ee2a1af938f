"""`emulate`: which NODES name each emulated server takes, and the errors for a --servers that
NODES cannot give (checked before any namespace is made). Runs on emulated servers are in
tests/integration (they need root)."""

from __future__ import annotations

import pytest

from fission.cli.commands.emulate import MAX_SERVERS, _server_names
from fission.core.errors import FissionError
from fission.core.nodes import BaseNode, MultiNode


def test_plain_nodes_then_names_from_the_patterns():
    nodes = [BaseNode("192.168.4.2"), MultiNode("pi-{1..9}", slots=2)]
    assert _server_names("lab", nodes, 1 + 3) == ["192.168.4.2", "pi-1", "pi-2", "pi-3"]
    assert _server_names("lab", [MultiNode("10.0.0.*")], 2) == ["10.0.0.1", "10.0.0.2"]


@pytest.mark.parametrize(
    ("nodes", "servers", "message"),
    [
        (
            [BaseNode("a"), MultiNode("pi-{1..2}")],
            4,
            "--servers 4: NODES of lab allows at most 3 server(s); emulate fewer, or add nodes "
            "or a MultiNode whose pattern has more names",
        ),
        ([], 1, "--servers 1: NODES of lab allows at most 0 server(s)"),
        (
            [BaseNode("a"), BaseNode("b"), MultiNode("c*")],
            1,
            "--servers 1: NODES of lab lists 2 server(s) by address and `run` waits for each "
            "of them; emulate at least 2",
        ),
        ([MultiNode("*")], 0, "--servers must be at least 1"),
        ([MultiNode("*")], MAX_SERVERS + 1, f"emulate at most {MAX_SERVERS} servers"),
    ],
)
def test_servers_that_nodes_cannot_give_are_one_clear_error(nodes, servers, message):
    with pytest.raises(FissionError) as info:
        _server_names("lab", nodes, servers)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_run_expects_only_servers_a_multinode_matches(project):
    # emulate tells `run` the made-up names to wait for (--expect); a name no MultiNode
    # matches would get no jobs, so it is refused before anything starts
    jobs = """
from fission.core.jobs import PythonJob


class One(PythonJob):
    def run(self):
        yield 1


class Sink(PythonJob):
    def run(self, value):
        pass
"""
    config = """
from fission.core.nodes import BaseNode, MultiNode
from fission.core.pipes import PicklePipe
from lab.jobs.jobs import One, Sink

CLIENT_IP = "192.168.4.1"
JOBS = [One(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]
NODES = [BaseNode("192.168.4.2"), MultiNode("pi-{1..9}")]
"""
    project.network("lab", jobs=jobs, config=config)
    result = project.manage("lab", "run", "--expect", "pi-10")
    assert result.returncode == 2, result.stderr  # a configuration error
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: --expect pi-10: no MultiNode in NODES of lab matches it, so it would get no jobs"
    )
