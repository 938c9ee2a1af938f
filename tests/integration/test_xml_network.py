"""XML_FILE networks under `simulate`: MARVELO-style Python programs given descriptor numbers,
wired by an XML topology, mixed with Python jobs from JOBS."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def test_the_docs_example_doubles_numbers_through_an_xml_executable(project):
    # docs/xml.md: Python source -> XML program (fd arguments) -> Python sink, IntPipes.
    shutil.copytree(DATA / "xml_lab", project.root / "lab")
    result = project.manage("lab", "simulate", "--debug-window")
    assert result.returncode == 0, result.stderr
    doubled = [
        line.split("doubled: ", 1)[1] for line in result.stdout.splitlines() if "doubled: " in line
    ]
    assert doubled == ["2", "4", "6", "8", "10"]


GENERATE = """\
import argparse, os

parser = argparse.ArgumentParser()
parser.add_argument("-o", action="append", type=int, required=True)
parser.add_argument("--count", type=int, required=True)
args = parser.parse_args()
with os.fdopen(args.o[0], "wb") as out:
    for number in range(args.count):
        out.write(f"block-{number:02d}".ljust(16, ".").encode())
        out.flush()
"""

UPPER = """\
import argparse, os

parser = argparse.ArgumentParser()
parser.add_argument("-i", action="append", type=int, required=True)
parser.add_argument("-o", action="append", type=int, required=True)
args = parser.parse_args()
with os.fdopen(args.i[0], "rb") as src, os.fdopen(args.o[0], "wb") as dst:
    while data := src.read(32):
        dst.write(data.upper())
        dst.flush()
"""

TOPOLOGY = """\
<network>
  <node pi_id="10.0.0.7">
    <algorithm path="programs" executable="python3 generate.py">
      <parameter param="--count 6"/>
      <output pipe_id="1" block_size="16"/>
    </algorithm>
    <algorithm path="programs" executable="python3 upper.py">
      <input pipe_id="1" block_count="2"/>
      <output pipe_id="2"/>
    </algorithm>
  </node>
</network>
"""


def test_xml_source_and_connector_feed_a_sink_from_jobs(project):
    # Sizes and counts come from the XML (16-byte blocks, two per round on pipe 1); pipe 2's
    # size comes from the BytesPipe of the Python sink. The source program's exit ends it all.
    programs = project.root / "programs"
    programs.mkdir()
    (programs / "generate.py").write_text(GENERATE)
    (programs / "upper.py").write_text(UPPER)
    folder = project.network(
        "mixed",
        jobs="""
        from fission.core.jobs import LocalJob, PythonJob


        class Show(LocalJob, PythonJob):
            def run(self, block):
                print("got", block.decode())
        """,
        config="""
        from fission.core.pipes import BytesPipe
        from mixed.jobs.jobs import Show

        JOBS = [Show(inputs=[BytesPipe(2, 32)])]
        XML_FILE = "topology.xml"
        """,
    )
    (folder / "topology.xml").write_text(textwrap.dedent(TOPOLOGY))
    result = project.manage("mixed", "simulate", "--debug-window")
    assert result.returncode == 0, result.stderr
    got = [line.split("got ", 1)[1] for line in result.stdout.splitlines() if "got " in line]
    assert got == [
        "BLOCK-00........BLOCK-01........",
        "BLOCK-02........BLOCK-03........",
        "BLOCK-04........BLOCK-05........",
    ]
    assert "warning" not in result.stderr
