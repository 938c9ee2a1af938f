"""XML_FILE: MARVELO topologies imported into the network, mixed with JOBS, and their errors."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from fission.client.placement import plan
from fission.core.errors import ConfigError, JobError, PipeError
from fission.core.jobs import DynamicMARVELOJob
from fission.core.loader import load_network
from fission.core.network import Network
from fission.core.pipes import BytesPipe
from fission.core.xmltopology import DEFAULT_BLOCK_SIZE, read_topology

# Line numbers matter: the tests assert them.
THREE_STAGES = """\
<?xml version="1.0"?>
<network>
  <node pi_id="10.0.2.13">
    <algorithm path="bin" executable="./read.py">
      <parameter param="-c config/params.py"/>
      <parameter param="--rate 16000"/>
      <output target_pi_id="10.0.2.14" pipe_id="1" block_size="2048" block_count="2"/>
    </algorithm>
  </node>
  <node pi_id="10.0.2.14">
    <algorithm path="bin" executable="./filter.py">
      <input source_pi_id="10.0.2.13" pipe_id="1" block_size="2048"/>
      <output pipe_id="2" block_size="512"/>
    </algorithm>
    <job executable="python3 sink.py">
      <input pipe_id="2" block_size="512" block_count="1"/>
    </job>
  </node>
</network>
"""


@pytest.fixture
def make(write: Callable[[str], Path]) -> Callable[..., Path]:
    """Write network 'net' with config.py and an XML file; returns the project folder."""

    def maker(config: str, xml: str, xml_name: str = "topology.xml") -> Path:
        project = write(config)
        (project / "net" / xml_name).write_text(textwrap.dedent(xml))
        (project / "bin").mkdir(exist_ok=True)
        return project

    return maker


@pytest.fixture
def load(make: Callable[..., Path]) -> Callable[[str, str], Network]:
    return lambda config, xml: load_network(make(config, xml), "net")


def test_xml_only_network_structure(load):
    network = load('XML_FILE = "topology.xml"\n', THREE_STAGES)
    read, filt, sink = network.jobs
    assert all(type(job) is DynamicMARVELOJob for job in network.jobs)
    assert [job.id for job in network.jobs] == [1, 2, 3]
    assert read.EXECUTABLE == "./read.py"
    assert read.PARAMETERS == "-c config/params.py --rate 16000"
    assert read.DEPENDENCIES == "bin"
    assert sink.DEPENDENCIES is None and sink.EXECUTABLE == "python3 sink.py"
    assert (read.INPUT_FLAG, read.OUTPUT_FLAG, read.HEAD) == ("-i", "-o", False)
    assert read.PASS_FDS is True and read.GROUPS == "ALL"
    assert [j.DEFAULT_NODE for j in network.jobs] == ["10.0.2.13", "10.0.2.14", "10.0.2.14"]
    assert [str(j.declared_at).rsplit(":", 1)[1] for j in network.jobs] == ["4", "11", "15"]
    assert (read.inputs, [p.id for p in read.outputs]) == ([], [1])
    assert ([p.id for p in filt.inputs], [p.id for p in filt.outputs]) == ([1], [2])
    first, second = network.connections[1], network.connections[2]
    assert (first.producer, first.consumer, second.producer, second.consumer) == (
        read,
        filt,
        filt,
        sink,
    )
    assert type(first.pipe) is BytesPipe
    assert (first.pipe.block_size, first.pipe.block_count) == (2048, 2)
    assert (second.pipe.block_size, second.pipe.block_count) == (512, 1)
    # One server per pi_id, with room for at least its jobs; the XML jobs are placed there.
    nodes = network.settings.NODES
    assert [(n.host, n.slots, type(n)) for n in nodes] == [
        ("10.0.2.13", 4, type(nodes[0])),
        ("10.0.2.14", 4, type(nodes[0])),
    ]
    assert str(nodes[1].declared_at).endswith("topology.xml:11")
    assert plan(network) == {1: "10.0.2.13", 2: "10.0.2.14", 3: "10.0.2.14"}
    assert network.warnings == []


def test_pipes_and_jobs_mix_with_jobs_list(load):
    config = """
class IntPipe(BytesPipe):
    BLOCK_SIZE = 4

    def pack(self, value):
        return value.to_bytes(4, "little")

    def unpack(self, data):
        return int.from_bytes(data, "little")

NODES = [BaseNode("10.0.0.5", slots=1)]
JOBS = [Source(outputs=[IntPipe(1)]), Sink(inputs=[IntPipe(3)])]
XML_FILE = "topology.xml"
"""
    xml = """\
    <network>
      <node pi_id="10.0.0.5">
        <algorithm executable="./double">
          <input pipe_id="1" block_size="4"/>
          <output pipe_id="2"/>
        </algorithm>
        <algorithm executable="./negate">
          <input pipe_id="2" block_size="8"/>
          <output pipe_id="3"/>
        </algorithm>
      </node>
    </network>
    """
    network = load(config, xml)
    source, sink, double, negate = network.jobs
    assert [type(j).__name__ for j in network.jobs] == [
        "Source",
        "Sink",
        "DynamicMARVELOJob",
        "DynamicMARVELOJob",
    ]
    assert [j.id for j in network.jobs] == [1, 2, 3, 4]
    # The Python side's pipes are the ones the executables use: same object, same codec.
    assert network.connections[1].producer is source
    assert network.connections[1].consumer is double
    assert double.inputs[0] is source.outputs[0]
    assert type(double.inputs[0]).__name__ == "IntPipe"
    assert network.connections[3].producer is negate and network.connections[3].consumer is sink
    assert type(network.connections[3].pipe).__name__ == "IntPipe"
    assert network.connections[2].pipe.block_size == 8
    # The server was already in NODES: not added twice; its single slot is reported.
    assert [n.host for n in network.settings.NODES] == ["10.0.0.5"]
    assert len(network.warnings) == 1
    assert re.search(
        r"topology\.xml:3: 2 jobs are assigned to 10\.0\.0\.5 but its node in NODES "
        r"\(.*config\.py:\d+\) has 1 slot\(s\)",
        network.warnings[0],
    )


def test_xml_jobs_get_their_servers_before_the_jobs_of_jobs(load):
    config = """
NODES = [BaseNode("10.0.0.5", slots=1), BaseNode("10.0.0.6", slots=2)]
JOBS = [Source(outputs=[PicklePipe(1)]), Sink(inputs=[PicklePipe(2)])]
XML_FILE = "topology.xml"
"""
    xml = """\
    <network>
      <node pi_id="10.0.0.5">
        <algorithm executable="./double">
          <input pipe_id="1"/>
          <output pipe_id="2"/>
        </algorithm>
      </node>
    </network>
    """
    network = load(config, xml)
    assert [(j.id, j.DEFAULT_NODE) for j in network.jobs] == [(1, None), (2, None), (3, "10.0.0.5")]
    # in job-id order the Sink (2) would take 10.0.0.5's only slot and push the XML job off
    assert plan(network) == {1: "10.0.0.6", 2: "10.0.0.6", 3: "10.0.0.5"}


def test_size_given_nowhere_is_the_default_with_a_warning(load, tmp_path):
    xml = """\
    <network>
      <node pi_id="n1">
        <a executable="./a"><output pipe_id="7"/></a>
        <b executable="./b"><input pipe_id="7" block_count="3"/></b>
      </node>
    </network>
    """
    network = load('XML_FILE = "topology.xml"\n', xml)
    pipe = network.connections[7].pipe
    assert (pipe.block_size, pipe.block_count) == (DEFAULT_BLOCK_SIZE, 3) == (4096, 3)
    assert network.warnings == [
        f"{tmp_path / 'net' / 'topology.xml'}: no block_size for pipe(s) 7; they carry blocks "
        f'of 4096 bytes, so their executables must write whole blocks (write block_size="..." '
        f"at one end to choose)"
    ]


def test_xml_args_rename_tags_and_attributes(load):
    config = """
XML_FILE = "topology.xml"
XML_ARGS = {
    "ip": "host", "executable": "program", "dependencies": "folder", "input": "in",
    "output": "out", "pipe_id": "id", "parameter_tag": "arg", "parameter": "value",
    "block_size": "size", "block_count": "count",
}
"""
    xml = """\
    <topology>
      <server host="h1">
        <task folder="bin" program="./gen">
          <arg value="-n 3"/>
          <out id="4" size="16" count="2"/>
        </task>
        <task program="./show"><in id="4"/></task>
      </server>
    </topology>
    """
    network = load(config, xml)
    gen, show = network.jobs
    assert (gen.EXECUTABLE, gen.PARAMETERS, gen.DEPENDENCIES, gen.DEFAULT_NODE) == (
        "./gen",
        "-n 3",
        "bin",
        "h1",
    )
    assert show.inputs[0] is gen.outputs[0]
    assert (gen.outputs[0].block_size, gen.outputs[0].block_count) == (16, 2)
    # With renamed attributes, the default names are no longer read.
    with pytest.raises(ConfigError, match=r"topology\.xml:3: <task> needs the attribute program"):
        load(config, xml.replace('program="./gen"', 'executable="./gen"'))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            '{"ip": "host", "colour": "x"}',
            r"config\.py:\d+: XML_ARGS has unknown key\(s\) 'colour'; the keys are ip, executable",
        ),
        ('{"ip": ""}', r"config\.py:\d+: XML_ARGS\['ip'\] must be a tag or attribute name"),
        (
            '{"input": "pipe", "output": "pipe"}',
            r"XML_ARGS gives input, output and parameter_tag the names 'pipe', 'pipe', "
            r"'parameter'; the three tags must differ",
        ),
        ('["ip"]', r"config\.py:\d+: XML_ARGS must be dict, got list"),
    ],
)
def test_wrong_xml_args(load, args, expected):
    with pytest.raises(ConfigError, match=expected):
        load(f'XML_FILE = "topology.xml"\nXML_ARGS = {args}\n', THREE_STAGES)


ONE_JOB = """\
<network><node pi_id="a">
  <job executable="./only">
  {end}</job>
</node></network>
"""


def edit(old: str, new: str) -> str:
    assert old in THREE_STAGES
    return THREE_STAGES.replace(old, new)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            edit("</algorithm>\n  </node>\n  <node", "</algorithm>\n  <node"),
            r"topology\.xml:18: invalid XML: mismatched tag \(column 3\)",
        ),
        ("", r"topology\.xml:1: invalid XML: no element found"),
        (
            edit('<parameter param="--rate 16000"/>', '<paramter param="--rate"/>'),
            r"topology\.xml:6: unknown element <paramter> in a job; a job holds <input>, "
            r"<output>, <parameter>",
        ),
        (
            edit('<node pi_id="10.0.2.14">', "<node>"),
            r"topology\.xml:10: <node> needs the attribute pi_id= \(or rename it with "
            r"XML_ARGS = \{'ip': '<name>'\}\)",
        ),
        (
            edit('executable="./filter.py"', ""),
            r"topology\.xml:11: <algorithm> needs the attribute executable=",
        ),
        (
            edit('executable="./filter.py"', 'executable=" "'),
            r"topology\.xml:11: <algorithm> needs the attribute executable= \(it is empty\)",
        ),
        (
            edit('<output pipe_id="2" block_size="512"/>', '<output block_size="512"/>'),
            r"topology\.xml:13: <output> needs the attribute pipe_id=",
        ),
        (
            edit('<parameter param="--rate 16000"/>', "<parameter/>"),
            r"topology\.xml:6: <parameter> needs the attribute param=",
        ),
        (
            edit('pipe_id="2" block_size="512"/>', 'pipe_id="two" block_size="512"/>'),
            r"topology\.xml:13: <output> pipe_id='two' must be a whole number >= 1",
        ),
        (
            edit('<output pipe_id="2" block_size="512"/>', '<output pipe_id="2" block_size="0"/>'),
            r"topology\.xml:13: <output> block_size='0' must be a whole number >= 1",
        ),
        (
            ONE_JOB.format(end='<input pipe_id="9"/>'),
            r"topology\.xml:3: pipe 9 is an input of './only' but nothing produces it: no "
            r"<output> in the XML and no job in JOBS has it as an output",
        ),
        (
            ONE_JOB.format(end='<output pipe_id="5"/>'),
            r"topology\.xml:3: pipe 5 is an output of './only' but nothing consumes it: no "
            r"<input> in the XML and no job in JOBS has it as an input",
        ),
        (
            # The first mistake in document order is reported: pipe 1 (line 7) before pipe 2.
            edit('<output pipe_id="2" block_size="512"/>', '<output pipe_id="5"/>').replace(
                'pipe_id="1" block_size="2048" block_count="2"', 'pipe_id="3"'
            ),
            r"topology\.xml:7: pipe 3 is an output of './read.py' but nothing consumes it",
        ),
        (
            edit('<output pipe_id="2" block_size="512"/>', '<output pipe_id="1"/>'),
            r"topology\.xml:13: pipe 1 has two producers: './filter.py' and './read.py' "
            r"\(line 7\)",
        ),
        (
            edit('<input pipe_id="2" block_size="512" block_count="1"/>', '<input pipe_id="1"/>'),
            r"topology\.xml:16: pipe 1 has two consumers: 'python3 sink.py' and './filter.py' "
            r"\(line 12\)",
        ),
        (
            edit('block_size="512" block_count="1"', 'block_size="256"'),
            r"topology\.xml:16: pipe 2 has block_size=256 here but 512 at line 13; both ends "
            r"must agree",
        ),
        (
            ONE_JOB.format(end=""),
            r"topology\.xml:2: the job './only' has neither <input> nor <output>; give it pipes",
        ),
        (
            "<network><node pi_id='a'/></network>",
            r"topology\.xml:1: the XML_FILE declares no jobs",
        ),
        (
            edit('<job executable="python3 sink.py">', '<job executable="sink \'unclosed">'),
            r"topology\.xml:15: DynamicMARVELOJob 3: EXECUTABLE cannot be split",
        ),
    ],
)
def test_invalid_xml_names_file_and_line(load, xml, expected):
    with pytest.raises(ConfigError, match=expected):
        load('XML_FILE = "topology.xml"\n', xml)


WITHOUT_SINK = edit(
    """    <job executable="python3 sink.py">
      <input pipe_id="2" block_size="512" block_count="1"/>
    </job>
""",
    "",
)


def test_block_count_conflict_between_ends(load):
    xml = edit('block_size="512" block_count="1"/>', 'block_count="4"/>')
    xml = xml.replace('pipe_id="2" block_size="512"/>', 'pipe_id="2" block_count="2"/>')
    with pytest.raises(
        PipeError, match=r"topology\.xml:16: pipe 2 has block_count=4 here but 2 at line 13"
    ):
        load('XML_FILE = "topology.xml"\n', xml)


@pytest.mark.parametrize(
    ("jobs", "xml", "expected"),
    [
        (
            "JOBS = [Source(outputs=[BytesPipe(2, 512)])]",
            THREE_STAGES,
            r"topology\.xml:13: pipe 2 has two producers: './filter.py' in the XML and Source "
            r"in JOBS \(.*config\.py:\d+\)",
        ),
        (
            "JOBS = [Sink(inputs=[BytesPipe(2, 64)])]",
            WITHOUT_SINK,
            r"topology\.xml:13: pipe 2 has block_size=512 here but 64 as BytesPipe\(2, 64, 1\) "
            r"in config\.py \(.*config\.py:5\); both ends must agree",
        ),
        (
            "JOBS = [Sink(inputs=[BytesPipe(2, 512, 3)])]",
            WITHOUT_SINK.replace('pipe_id="2" block_size="512"', 'pipe_id="2" block_count="1"'),
            r"topology\.xml:13: pipe 2 has block_count=1 here but 3 as BytesPipe\(2, 512, 3\)",
        ),
        (
            "JOBS = [Sink(inputs=[PicklePipe(2)])]",
            WITHOUT_SINK,
            r"topology\.xml:13: pipe 2 is PicklePipe\(2\) in config\.py .*which has no fixed "
            r"block size; remove block_size from the XML or make it a BytesPipe",
        ),
    ],
)
def test_conflicts_with_jobs_list(load, jobs, xml, expected):
    with pytest.raises(PipeError, match=expected):
        load(f'{jobs}\nXML_FILE = "topology.xml"\n', xml)


def test_python_pipe_left_open_for_the_xml_is_an_error_in_jobs(load):
    # A JOBS pipe whose other end the XML does not provide: the usual one-ended pipe error.
    config = 'JOBS = [Source(outputs=[BytesPipe(30, 4)])]\nXML_FILE = "topology.xml"\n'
    with pytest.raises(PipeError, match=r"pipe 30 is an output of Source 1 but no job"):
        load(config, THREE_STAGES)


def test_dependencies_folder_of_an_xml_job_is_checked(make, tmp_path):
    make('XML_FILE = "topology.xml"\n', THREE_STAGES)
    (tmp_path / "bin").rmdir()
    with pytest.raises(
        JobError, match=r"topology\.xml:4: DynamicMARVELOJob 1: DEPENDENCIES folder 'bin'"
    ):
        load_network(tmp_path, "net")


def test_xml_file_is_looked_up_in_the_network_then_the_project_folder(make):
    project = make('XML_FILE = "shared.xml"\n', THREE_STAGES, xml_name="unused.xml")
    (project / "shared.xml").write_text(THREE_STAGES)  # project folder
    assert len(load_network(project, "net").jobs) == 3
    # The network folder wins over the project folder.
    (project / "net" / "shared.xml").write_text(
        "<n><node pi_id='x'><a executable='./a'><output pipe_id='1'/></a>"
        "<b executable='./b'><input pipe_id='1'/></b></node></n>"
    )
    assert [j.EXECUTABLE for j in load_network(project, "net").jobs] == ["./a", "./b"]
    (project / "net" / "shared.xml").unlink()
    (project / "shared.xml").unlink()
    with pytest.raises(ConfigError) as error:
        load_network(project, "net")
    message = str(error.value)
    assert re.match(r".*config\.py:\d+: XML_FILE 'shared.xml' not found \(looked for ", message)
    assert f"{project / 'net' / 'shared.xml'} and {project / 'shared.xml'}" in message


def test_xml_file_outside_the_project_is_a_problem_for_run_only(make, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "topology.xml"
    outside.write_text(THREE_STAGES)
    project = make(f"XML_FILE = {str(outside)!r}\n", "<unused/>")
    network = load_network(project, "net")
    assert len(network.jobs) == 3
    assert [p.split(": ", 1)[1] for p in network.settings.run_problems] == [
        f"XML_FILE {str(outside)!r} is outside the project folder; `run` ships only the project "
        f"to the servers, so move the file into the network folder"
    ]


def test_jobs_may_be_missing_only_with_an_xml_file(make):
    with pytest.raises(ConfigError, match="defines no JOBS"):
        load_network(make("X = 1\n", THREE_STAGES), "net")


def test_loading_twice_gives_the_same_ids(make):
    project = make(
        'JOBS = [Source(outputs=[BytesPipe(1, 2048, 2)])]\nXML_FILE = "topology.xml"\n',
        THREE_STAGES.replace(
            """    <algorithm path="bin" executable="./read.py">
      <parameter param="-c config/params.py"/>
      <parameter param="--rate 16000"/>
      <output target_pi_id="10.0.2.14" pipe_id="1" block_size="2048" block_count="2"/>
    </algorithm>
""",
            "",
        ),
    )
    first = load_network(project, "net")
    second = load_network(project, "net")
    assert [(j.id, type(j).__name__) for j in first.jobs] == [
        (1, "Source"),
        (2, "DynamicMARVELOJob"),
        (3, "DynamicMARVELOJob"),
    ]
    assert [(j.id, j.EXECUTABLE if j.id > 1 else None) for j in second.jobs] == [
        (1, None),
        (2, "./filter.py"),
        (3, "python3 sink.py"),
    ]


def test_read_topology_without_a_config(tmp_path):
    # The reader on its own (used by tools): default names, no JOBS, no NODES.
    path = tmp_path / "t.xml"
    path.write_text(THREE_STAGES)
    topology = read_topology(path)
    assert [j.EXECUTABLE for j in topology.jobs] == ["./read.py", "./filter.py", "python3 sink.py"]
    assert [n.host for n in topology.nodes] == ["10.0.2.13", "10.0.2.14"]


DATA = Path(__file__).resolve().parent.parent / "data"
DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "xml.md"


def test_docs_example_is_the_tested_network():
    text = DOCS.read_text()
    section = text[text.index("`lab/config.py`:") : text.index("The network has three jobs")]
    blocks = re.findall(r"```\w+\n(.*?)```", section, re.S)
    files = ["config.py", "topology.xml", "bin/double.py"]
    assert blocks == [(DATA / "xml_lab" / name).read_text() for name in files]


def test_docs_example_loads(tmp_path):
    shutil.copytree(DATA / "xml_lab", tmp_path / "lab")
    network = load_network(tmp_path, "lab")
    count, show, double = network.jobs
    assert [job.name for job in network.jobs] == ["Count 1", "Show 2", "DynamicMARVELOJob 3"]
    assert (double.EXECUTABLE, double.DEPENDENCIES, double.DEFAULT_NODE) == (
        "python3 double.py",
        "lab/bin",
        "10.0.0.5",
    )
    assert network.connections[1].producer is count and network.connections[1].consumer is double
    assert network.connections[2].producer is double and network.connections[2].consumer is show
    assert [type(c.pipe).__name__ for c in network.connections.values()] == ["IntPipe"] * 2
    assert [n.host for n in network.settings.NODES] == ["10.0.0.5"]
    assert network.warnings == []


def test_docs_example_program_doubles_what_it_reads_from_its_descriptors():
    # The example executable on its own, with real descriptors as a job host would pass them.
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    script = DATA / "xml_lab" / "bin" / "double.py"
    program = subprocess.Popen(
        [sys.executable, str(script), "-i", str(in_read), "-o", str(out_write)],
        pass_fds=(in_read, out_write),
    )
    os.close(in_read)
    os.close(out_write)
    with os.fdopen(in_write, "wb") as feed:
        feed.write(struct.pack("<5i", 1, 2, 3, 4, -5))
    with os.fdopen(out_read, "rb") as result:
        assert struct.unpack("<5i", result.read()) == (2, 4, 6, 8, -10)
    assert program.wait(timeout=10) == 0
