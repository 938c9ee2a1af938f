"""visualize, graphviz and show: the job graph as text, and as a picture that is looked at."""

from __future__ import annotations

import os
import struct

import pytest
from PIL import Image

JOBS = """
from fission.core.jobs import LocalJob, PythonJob


class Count(PythonJob):
    def run(self):
        yield 1


class Double(PythonJob):
    def run(self, value):
        return 2 * value


class Show(LocalJob, PythonJob):
    def run(self, value, other):
        print(value, other)
"""

CONFIG = """
from fission.core.nodes import BaseNode
from fission.core.pipes import JSONPipe, PicklePipe

from lab.jobs.jobs import Count, Double, Show

JOBS = [
    Count(outputs=[PicklePipe(7), JSONPipe(8)]),
    Double(inputs=[PicklePipe(7)], outputs=[PicklePipe(9)]),
    Show(inputs=[PicklePipe(9), JSONPipe(8)]),
]
NODES = [BaseNode("10.0.0.2", slots=1), BaseNode("10.0.0.3", slots=0)]
"""

# Fill colours the drawing uses (Graphviz's X11 names): job boxes, server clusters, PENDING.
LIGHTBLUE = (173, 216, 230)
LIGHTGREY = (211, 211, 211)
MISTYROSE = (255, 228, 225)


@pytest.fixture
def lab(project):
    project.network("lab", jobs=JOBS, config=CONFIG)
    return project


def test_mermaid_text(lab):
    result = lab.manage("lab", "visualize", "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "flowchart LR\n"
        '    job1["Count 1"]\n'
        '    job2["Double 2"]\n'
        '    job3["Show 3"]\n'
        "    job1 -->|7| job2\n"
        "    job1 -->|8| job3\n"
        "    job2 -->|9| job3\n"
    )


def test_mermaid_with_placement_groups_jobs_by_server(lab):
    # 10.0.0.2 has one slot (Count takes it), 10.0.0.3 none: Double has nowhere to go;
    # the LocalJob runs on the client.
    result = lab.manage("lab", "visualize", "--format", "mermaid", "--placement")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "flowchart LR\n"
        '    subgraph server0["server 10.0.0.2"]\n'
        '        job1["Count 1"]\n'
        "    end\n"
        '    subgraph server1["client (this machine)"]\n'
        '        job3["Show 3"]\n'
        "    end\n"
        '    subgraph server2["PENDING: no server has room"]\n'
        '        job2["Double 2"]\n'
        "    end\n"
        "    job1 -->|7| job2\n"
        "    job1 -->|8| job3\n"
        "    job2 -->|9| job3\n"
    )


def test_dot_text(lab):
    result = lab.manage("lab", "visualize", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "digraph lab {\n"
        '\tlabel="network lab" labelloc=t rankdir=LR\n'
        '\tnode [fillcolor=lightblue shape=box style="rounded,filled"]\n'
        "\tedge [fontsize=10]\n"
        '\tjob1 [label="Count 1"]\n'
        '\tjob2 [label="Double 2"]\n'
        '\tjob3 [label="Show 3"]\n'
        '\tjob1 -> job2 [label=7 tooltip="PicklePipe(7)"]\n'
        '\tjob1 -> job3 [label=8 tooltip="JSONPipe(8)"]\n'
        '\tjob2 -> job3 [label=9 tooltip="PicklePipe(9)"]\n'
        "}\n"
    )


def test_dot_with_placement_has_one_cluster_per_server(lab):
    result = lab.manage("lab", "visualize", "--format", "dot", "--placement")
    assert result.returncode == 0, result.stderr
    assert (
        "\tsubgraph cluster_0 {\n"
        '\t\tcolor=lightgrey label="server 10.0.0.2" style=filled\n'
        '\t\tjob1 [label="Count 1"]\n'
        "\t}\n"
        "\tsubgraph cluster_1 {\n"
        '\t\tcolor=lightgrey label="client (this machine)" style=filled\n'
        '\t\tjob3 [label="Show 3"]\n'
        "\t}\n"
        "\tsubgraph cluster_2 {\n"
        '\t\tcolor=mistyrose label="PENDING: no server has room" style=filled\n'
        '\t\tjob2 [label="Double 2"]\n'
        "\t}\n"
    ) in result.stdout


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def colours(path) -> set[tuple[int, int, int]]:
    with Image.open(path) as image:
        return {rgb for _count, rgb in image.convert("RGB").getcolors(maxcolors=1 << 20)}


def test_png_is_a_real_picture_of_the_graph(lab):
    target = lab.root / "plain.png"
    result = lab.manage("lab", "visualize", "--format", "png", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stderr
    width, height = png_size(target)
    assert width > 200 and height > 50
    seen = colours(target)
    assert len(seen) > 10  # text, edges, anti-aliasing: not a blank or one-colour image
    assert LIGHTBLUE in seen and (0, 0, 0) in seen and (255, 255, 255) in seen
    assert LIGHTGREY not in seen  # no clusters without --placement


def test_png_with_placement_draws_the_server_clusters(lab):
    result = lab.manage("lab", "visualize", "--placement")  # png by default
    assert result.returncode == 0, result.stderr
    target = lab.root / "lab" / "graph.png"
    seen = colours(target)
    assert {LIGHTBLUE, LIGHTGREY, MISTYROSE} <= seen
    plain = lab.root / "plain.png"
    lab.manage("lab", "visualize", "-o", str(plain))
    # three clusters and their titles take room: the picture is larger than without them
    assert png_size(target)[1] > png_size(plain)[1]


def test_svg(lab):
    result = lab.manage("lab", "visualize", "--format", "svg", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("<?xml")
    assert "<svg" in result.stdout and "Double 2" in result.stdout


def test_graphviz_writes_dot_and_png_into_the_network_folder(lab):
    result = lab.manage("lab", "graphviz")
    assert result.returncode == 0, result.stderr
    folder = lab.root / "lab"
    assert (folder / "graph.dot").read_text().startswith("digraph lab {")
    assert png_size(folder / "graph.png")[0] > 200


def test_show_prints_where_the_picture_is_and_opens_nothing_without_a_display(lab):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = lab.manage("lab", "show", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(lab.root / "lab" / "graph.png")
    assert len(colours(lab.root / "lab" / "graph.png")) > 10
    opened = lab.manage("lab", "show", "--open", env=env)
    assert opened.returncode == 0
    assert "no display here" in opened.stderr and "nothing was opened" in opened.stderr


def test_missing_dot_program_names_the_package(lab):
    env = dict(os.environ, PATH="/nonexistent")
    result = lab.manage("lab", "visualize", "--format", "png", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: drawing a picture needs Graphviz's `dot` program, which is not installed; "
        "install it (Debian, Ubuntu, Raspberry Pi OS: sudo apt-get install graphviz), or use "
        "--format mermaid or --format dot, which need no program"
    ]
    # text formats still work
    assert lab.manage("lab", "visualize", "--format", "dot", env=env).returncode == 0


def test_bad_format_is_a_usage_error(lab):
    result = lab.manage("lab", "visualize", "--format", "jpeg")
    assert result.returncode == 2
    assert "'jpeg' is not one of" in result.stderr and "Traceback" not in result.stderr


def test_placement_of_the_latest_run(lab):
    missing = lab.manage("lab", "visualize", "--format", "mermaid", "--placement", "run")
    assert missing.returncode == 2 and "--placement run: neither" in missing.stderr
    assert lab.manage("lab", "simulate", timeout=60).returncode == 0
    result = lab.manage("lab", "visualize", "--format", "mermaid", "--placement", "run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "flowchart LR\n"
        '    subgraph server0["this machine (simulate)"]\n'
        '        job1["Count 1"]\n'
        '        job2["Double 2"]\n'
        '        job3["Show 3"]\n'
        "    end\n"
    )
