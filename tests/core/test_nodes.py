"""Nodes: groups per node, MultiNode patterns expanded to the servers that joined, names made
up for emulated servers, and CSV inventory files named in NODES."""

from __future__ import annotations

import re

import pytest

from fission.core.errors import ConfigError
from fission.core.nodes import (
    BaseNode,
    MultiNode,
    example_servers,
    expand_nodes,
    read_inventory,
)


def test_multinode_patterns():
    ranged = MultiNode("192.168.4.{10..20}", slots=2, groups=["MIC"])
    assert ranged.matches("192.168.4.10") and ranged.matches("192.168.4.20")
    assert not ranged.matches("192.168.4.9") and not ranged.matches("192.168.4.200")
    assert not ranged.matches("192.168.40.12")
    star = MultiNode("pi-*")
    assert star.matches("pi-7") and star.matches("pi-") and not star.matches("xpi-7")
    assert MultiNode("lab?").matches("lab1") and not MultiNode("lab?").matches("lab12")
    assert MultiNode("10.0.0.*").matches("10.0.0.3") and not MultiNode("10.0.0.*").matches("10a0")


def test_expand_nodes_uses_the_joined_servers_once():
    class MicNode(MultiNode):
        GROUPS = ["MIC", "ALL"]

    plain = BaseNode("pi-1", slots=1)
    nodes = expand_nodes(
        [plain, MicNode("pi-*", slots=3), MultiNode("*", slots=1)],
        ["pi-3", "pi-1", "pi-2", "other"],
    )
    assert [(n.host, n.slots, n.groups) for n in nodes] == [
        ("pi-1", 1, ["ALL"]),
        ("pi-2", 3, ["MIC", "ALL"]),
        ("pi-3", 3, ["MIC", "ALL"]),
        ("other", 1, ["ALL"]),
    ]
    assert nodes[0] is plain
    assert not any(isinstance(n, MultiNode) for n in nodes)


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("192.168.4.*", ["192.168.4.1", "192.168.4.2", "192.168.4.3"]),
        ("pi-{10..20}", ["pi-10", "pi-11", "pi-12"]),
        ("lab?", ["lab1", "lab2", "lab3"]),
        ("rack{1..2}-?", ["rack1-1", "rack1-2", "rack1-3"]),
        ("pi-{7..7}", ["pi-7"]),  # the pattern has one name only
        ("pi-{9..3}", []),  # and this one none
    ],
)
def test_example_names_match_their_pattern(pattern, names):
    node = MultiNode(pattern)
    made = node.example_names(3)
    assert made == names
    assert all(node.matches(name) for name in made)


def test_example_names_are_distinct_and_run_out_with_the_pattern():
    digits = MultiNode("lab?").example_names(20)
    assert sorted(digits) == [f"lab{d}" for d in range(10)]  # ten digits, then no more
    stars = MultiNode("**").example_names(200)  # 1+11 and 11+1 are one name
    assert len(stars) == len(set(stars)) == 200
    ranged = MultiNode("10.0.{1..2}.{5..6}").example_names(10, skip=lambda n: n == "10.0.1.6")
    assert ranged == ["10.0.1.5", "10.0.2.5", "10.0.2.6"]


def test_example_servers_are_what_a_run_would_match():
    class MicNode(MultiNode):
        GROUPS = ["MIC"]

    plain = [BaseNode("pi-2"), BaseNode("10.0.0.1"), BaseNode("pi-2")]
    nodes = [plain[0], MicNode("pi-*", slots=1), plain[1], MultiNode("pi-{1..3}"), plain[2]]
    # plain nodes first, each once, in order; then the patterns in turn, with names that are
    # new and that no earlier pattern matches (pi-{1..3} has none left: pi-* takes them all)
    names = example_servers(nodes, 5)
    assert names == ["pi-2", "10.0.0.1", "pi-1", "pi-3", "pi-4"]
    # every name stands for the node it was made for (as in `run`: servers by name)
    expanded = {n.host: n.groups for n in expand_nodes(nodes, names)}
    assert expanded == {
        "pi-2": ["ALL"],
        "10.0.0.1": ["ALL"],
        "pi-1": ["MIC"],
        "pi-3": ["MIC"],
        "pi-4": ["MIC"],
    }
    # two patterns share the servers; a finite one runs out, the other goes on
    assert example_servers([MultiNode("a{1..2}"), MultiNode("b-*")], 5) == [
        "a1",
        "b-1",
        "a2",
        "b-2",
        "b-3",
    ]
    assert example_servers([BaseNode("x"), MultiNode("y{1..2}")], 9) == ["x", "y1", "y2"]
    assert example_servers([BaseNode("x"), BaseNode("z")], 1) == ["x"]


def test_inventory_file(tmp_path):
    path = tmp_path / "nodes.csv"
    path.write_text(
        "# the lab's servers\n"
        "host, name, groups, slots\n"
        "192.168.4.2, mic-1, MIC ALL, 2\n"
        "\n"
        "192.168.4.3,,,\n"
        "10.0.0.{2..9},,CORE;ALL,1\n"
    )
    nodes = read_inventory(path)
    assert [(type(n).__name__, n.host, n.name, n.groups, n.slots) for n in nodes] == [
        ("BaseNode", "192.168.4.2", "mic-1", ["MIC", "ALL"], 2),
        ("BaseNode", "192.168.4.3", "192.168.4.3", ["ALL"], BaseNode.DEFAULT_SLOTS),
        ("MultiNode", "10.0.0.{2..9}", "10.0.0.{2..9}", ["CORE", "ALL"], 1),
    ]
    assert str(nodes[0].declared_at).endswith("nodes.csv:3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"nodes\.csv: the node inventory is empty"),
        ("address,slots\n1.2.3.4,2\n", r"nodes\.csv:1: the first row must name the columns.*"),
        ("host,slots\n1.2.3.4,two\n", r"nodes\.csv:2: slots must be a whole number, got 'two'"),
        (
            "host,slots\n1.2.3.4,-1\n",
            r"nodes\.csv:2: BaseNode\('1\.2\.3\.4'\): slots must be .* got -1",
        ),
        ("host\n1.2.3.4,5\n", r"nodes\.csv:2: 2 cells but 1 columns in the header"),
    ],
)
def test_inventory_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "nodes.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_inventory(path)
    assert re.search(message, str(info.value)), str(info.value)


def test_nodes_setting_reads_inventories_next_to_config(load, tmp_path):
    (tmp_path / "net").mkdir(exist_ok=True)
    (tmp_path / "net" / "servers.csv").write_text("host,groups\n192.168.4.2,MIC\n")
    network = load(
        """
        NODES = ["servers.csv", BaseNode("192.168.4.9")]
        JOBS = [Source(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]
        """
    )
    nodes = network.settings.NODES
    assert [(n.host, n.groups) for n in nodes] == [
        ("192.168.4.2", ["MIC"]),
        ("192.168.4.9", ["ALL"]),
    ]
    assert network.settings.run_problems == ()


def test_missing_inventory_is_a_run_problem(load):
    network = load(
        """
        NODES = ["missing.csv"]
        JOBS = [Source(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(1)])]
        """
    )
    assert len(network.settings.run_problems) == 1
    assert re.search(
        r"config\.py:\d+: NODES: .*missing\.csv: cannot read the node inventory",
        network.settings.run_problems[0],
    )
