"""The job API of the seed, end to end under `simulate`: sources as generators and functions,
setup/teardown, return conventions, *args, BLOCK_COUNT lists, finish() and end-of-stream,
JSON/bytes/custom pipes. Every network here ends by itself and `simulate` exits 0."""

from __future__ import annotations

import json

JOBS = """
import json
import os
import struct
import time

from fission.core.jobs import PythonJob, LocalJob
from fission.core.pipes import BytesPipe, PicklePipe


class Numbers(PythonJob):
    '''generator source: 1..count, then the generator returns'''

    def __init__(self, count, **kwargs):
        super().__init__(**kwargs)
        self.count = count

    def run(self):
        for value in range(1, self.count + 1):
            yield value


class Letters(PythonJob):
    '''function source, called again and again; finish() after the last letter'''

    def setup(self):
        self.letters = iter("abcdef")

    def run(self):
        letter = next(self.letters)
        if letter == "f":
            self.finish()
        return letter


class Split(PythonJob):
    '''two outputs: a tuple maps to the outputs in order, None sends nothing that round'''

    def run(self, number, letter):
        if number == 3:
            return None
        if number == 4:
            return (number * 10, None)
        return (number * 10, f"{letter}{number}")


class Broadcast(PythonJob):
    '''a non-tuple value goes to every output, a tuple maps to them in order'''

    def run(self, value):
        if value == 20:
            return (value, value + 1)
        return value


class Wrap(PythonJob):
    '''one output: a tuple meant as one value is wrapped in a 1-tuple'''

    def run(self, value):
        return ((value, -value),)


class Collect(LocalJob, PythonJob):
    '''sink on the client (a LocalJob) writing one JSON line per round, with its id'''

    def setup(self):
        self.out = open("received.jsonl", "w")
        self.cwd = os.getcwd()

    def run(self, *values):
        self.out.write(json.dumps({"job": self.id, "values": values}) + "\\n")

    def teardown(self):
        self.out.write(json.dumps({"teardown": True, "cwd": self.cwd}) + "\\n")
        self.out.close()


class Batches(PythonJob):
    def run(self, numbers):
        with open("batches.jsonl", "a") as handle:
            handle.write(json.dumps(numbers) + "\\n")


class IntPipe(BytesPipe):
    BLOCK_SIZE = 4

    def pack(self, value):
        return struct.pack("<i", value)

    def unpack(self, data):
        return struct.unpack("<i", data)[0]


class Triples(PicklePipe):
    BLOCK_COUNT = 3
"""

CONFIG = """
from fission.core.pipes import PicklePipe, JSONPipe, BytesPipe
from net.jobs.jobs import (
    Numbers, Letters, Split, Broadcast, Wrap, Collect, Batches, IntPipe, Triples,
)

JOBS = [
    Numbers(6, outputs=[PicklePipe(1)]),                              # 1
    Letters(outputs=[JSONPipe(2)]),                                   # 2
    Split(inputs=[PicklePipe(1), JSONPipe(2)],                        # 3
          outputs=[IntPipe(3), PicklePipe(4)]),
    Broadcast(inputs=[IntPipe(3)], outputs=[PicklePipe(5), PicklePipe(6)]),   # 4
    Collect(inputs=[PicklePipe(5), PicklePipe(4)]),                   # 5
    Collect(inputs=[PicklePipe(6)]),                                  # 6
    Numbers(8, outputs=[Triples(7)]),                                 # 7
    Batches(inputs=[Triples(7)]),                                     # 8
    Numbers(2, outputs=[PicklePipe(9)]),                              # 9
    Wrap(inputs=[PicklePipe(9)], outputs=[PicklePipe(10)]),           # 10
    Collect(inputs=[PicklePipe(10)]),                                 # 11
]
"""


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_job_api_end_to_end(project):
    folder = project.network("net", jobs=JOBS, config=CONFIG)
    result = project.manage("net", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "every sink finished" in result.stderr
    run = folder / "simulation"

    # Letters finishes after 'f' (6 letters), Numbers(6) after 6: both streams end at round 6.
    # Round 3: Split returned None -> nothing anywhere. Round 4: only the first output.
    # Round 2: Broadcast returned a tuple: one element per output.
    five = read_jsonl(run / "5" / "received.jsonl")
    assert five[:-1] == [
        {"job": 5, "values": [10, "a1"]},
        {"job": 5, "values": [20, "b2"]},
        {"job": 5, "values": [40, None]},
        {"job": 5, "values": [50, "e5"]},
        {"job": 5, "values": [60, "f6"]},
    ]
    assert five[-1]["teardown"] is True and five[-1]["cwd"] == str(run / "5")
    six = read_jsonl(run / "6" / "received.jsonl")
    assert [row["values"] for row in six[:-1]] == [[10], [21], [40], [50], [60]]
    eleven = read_jsonl(run / "11" / "received.jsonl")
    assert [row["values"] for row in eleven[:-1]] == [[[1, -1]], [[2, -2]]]
    # BLOCK_COUNT = 3: lists of three, aligned from sqn 1; the last, partial round too
    batches = read_jsonl(run / "8" / "batches.jsonl")
    assert batches == [[1, 2, 3], [4, 5, 6], [7, 8]]


def test_streams_of_different_length_end_with_the_shorter(project):
    jobs = (
        JOBS
        + """

class Pair(PythonJob):
    def run(self, a, b):
        with open("pairs.txt", "a") as handle:
            handle.write(f"{a},{b}\\n")
"""
    )
    config = """
from fission.core.pipes import PicklePipe
from net.jobs.jobs import Numbers, Pair

JOBS = [
    Numbers(3, outputs=[PicklePipe(1)]),
    Numbers(1000000, outputs=[PicklePipe(2)]),
    Pair(inputs=[PicklePipe(1), PicklePipe(2)]),
]
"""
    folder = project.network("net", jobs=jobs, config=config)
    result = project.manage("net", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    assert (folder / "simulation" / "3" / "pairs.txt").read_text() == "1,1\n2,2\n3,3\n"
    # the endless source was told to stop (its consumer closed), not killed
    assert "FINISHED" not in result.stderr
    log = (folder / "simulation" / "FISSION.log").read_text()
    assert "Numbers 2 finished" in log
