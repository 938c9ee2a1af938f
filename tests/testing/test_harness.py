"""fission.testing: jobs run in-process with the job host's rounds, outputs and codecs."""

from __future__ import annotations

import os
import re

import pytest

from fission.core.jobs import PythonJob
from fission.core.loader import load_network
from fission.core.pipes import JSONPipe, PicklePipe
from fission.testing import Blocks, HarnessError, feed, run_jobs


class Three(PicklePipe):
    BLOCK_COUNT = 3


class Two(PicklePipe):
    BLOCK_COUNT = 2


class Echo(PythonJob):
    def run(self, *values):
        return values if len(values) > 1 else values[0]


class Pair(PythonJob):
    def run(self, single, pair):
        return ((single, pair),)  # one tuple, sent as one value


class Split(PythonJob):
    def run(self, value):
        if value == 0:
            return None
        return (value, -value) if value > 0 else (None, value)


class Until(PythonJob):
    def setup(self):
        self.seen = []
        with open("setup.txt", "w") as handle:
            handle.write(os.getcwd())

    def run(self, value):
        self.seen.append(value)
        if value == "stop":
            self.finish()
        return value

    def teardown(self):
        self.torn_down = True


class Counter(PythonJob):
    def run(self):
        yield from range(1, 4)


class Forever(PythonJob):
    def setup(self):
        self.number = 0

    def run(self):
        self.number += 1
        return self.number if self.number % 2 else None  # only odd numbers are sent


def test_block_count_lists_and_a_last_partial_round():
    job = Echo(inputs=[Three(1)], outputs=[PicklePipe(2)])
    result = feed(job, [1, 2, 3, 4, 5, 6, 7])
    assert result.calls == [([1, 2, 3],), ([4, 5, 6],), ([7],)]
    assert result.output == [[1, 2, 3], [4, 5, 6], [7]]
    assert result.rounds == 3 and not result.finished


def test_rounds_align_inputs_of_different_block_counts():
    # round r takes block r of pipe 1 and blocks 2r-1, 2r of pipe 2; pipe 1 ends the stream
    job = Pair(inputs=[PicklePipe(1), Two(2)], outputs=[PicklePipe(3)])
    result = feed(job, ["a", "b", "c"], [1, 2, 3, 4, 5, 6, 7, 8])
    assert result.output == [("a", [1, 2]), ("b", [3, 4]), ("c", [5, 6])]


def test_none_blocks_are_rounds_without_data():
    job = Pair(inputs=[PicklePipe(1), Two(2)], outputs=[PicklePipe(3)])
    result = feed(job, ["a", None, None], [1, None, None, None, 5, 6])
    # round 2 carries no data at all: run is not called, and the round sends nothing
    assert result.calls == [("a", [1]), (None, [5, 6])]
    assert result.blocks == {3: [("a", [1]), None, (None, [5, 6])]}
    assert result.rounds == 3


def test_tuples_map_to_outputs_and_none_sends_nothing():
    job = Split(inputs=[PicklePipe(1)], outputs=[PicklePipe(2), PicklePipe(3)])
    result = feed(job, [1, 0, -2])
    assert result.blocks == {2: [1, None, None], 3: [-1, None, -2]}
    assert result.outputs == {2: [1], 3: [-1, -2]}
    with pytest.raises(HarnessError, match="has 2 outputs; use .outputs"):
        _ = result.output


def test_a_sinks_return_value_is_ignored():
    sink = Echo(inputs=[PicklePipe(1), PicklePipe(2)])
    result = feed(sink, [1, 2], [3, 4])  # returns tuples, and has no outputs
    assert result.calls == [(1, 3), (2, 4)] and result.blocks == {}


def test_a_wrong_tuple_is_the_job_hosts_error():
    job = Echo(inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3)] * 3)
    with pytest.raises(TypeError) as caught:
        feed(job, [1], [2])
    assert str(caught.value) == (
        "Echo.run returned a tuple of 2 values but the job has 3 output(s); a tuple maps its "
        "elements to the outputs in order; to send one tuple to every output, return (value, "
        "value, ...)"
    )


def test_values_go_through_the_pipes_codec():
    job = Echo(inputs=[JSONPipe(1)], outputs=[JSONPipe(2)])
    result = feed(job, [(1, 2), {"a": (3,)}])
    assert result.calls == [([1, 2],), ({"a": [3]},)]  # JSON has no tuples
    with pytest.raises(TypeError, match="not JSON serializable"):
        feed(job, [{1, 2}])


def test_finish_setup_teardown_and_workdir(tmp_path):
    job = Until(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    result = feed(job, ["a", "stop", "never"], workdir=tmp_path / "work")
    assert result.output == ["a", "stop"] and result.finished
    assert job.seen == ["a", "stop"] and job.torn_down
    assert (tmp_path / "work" / "setup.txt").read_text() == str(tmp_path / "work")
    assert os.getcwd() != str(tmp_path / "work")
    # the same job object can be fed again: finish() is forgotten
    assert feed(job, Blocks(["b", "c"]), workdir=tmp_path / "work").output == ["b", "c"]


def test_sources():
    counted = feed(Counter(outputs=[PicklePipe(1)]))
    assert counted.output == [1, 2, 3] and counted.finished and counted.rounds == 3
    odd = feed(Forever(outputs=[PicklePipe(1)]), rounds=5)
    assert odd.output == [1, 3, 5] and not odd.finished
    with pytest.raises(HarnessError, match="without ending; give rounds=N"):
        feed(Forever(outputs=[PicklePipe(1)]))


def test_feeding_mistakes_are_named():
    job = Pair(inputs=[PicklePipe(1), Two(2)], outputs=[PicklePipe(3)])
    with pytest.raises(HarnessError) as caught:
        feed(job, [1])
    assert str(caught.value) == (
        "Pair has 2 input(s) (PicklePipe(1), Two(2)) but 1 list(s) of blocks were given; give "
        "one list per input, in order"
    )
    with pytest.raises(HarnessError, match=re.escape("wrap it: ['abc']")):
        feed(Echo(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]), "abc")


def test_a_sub_graph_is_wired_by_pipe_ids():
    jobs = [
        Echo(inputs=[Three(2)], outputs=[PicklePipe(3)]),  # listed before its producer
        Counter(outputs=[Three(2)]),
        Pair(inputs=[PicklePipe(1), PicklePipe(3)], outputs=[PicklePipe(4)]),
    ]
    result = run_jobs(jobs, inputs={1: ["x", "y"]})
    assert [r.job for r in result.results] == [jobs[1], jobs[0], jobs[2]]
    assert result.of("Echo").output == [[1, 2, 3]]
    assert result.outputs == {4: [("x", [1, 2, 3])]}  # y: pipe 3 ended after round 1


def test_sub_graph_sources_take_rounds():
    forever = Forever(outputs=[PicklePipe(1)])
    echo = Echo(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    assert run_jobs([forever, echo], rounds={forever: 4}).outputs == {2: [1, 3]}


def test_sub_graph_mistakes_are_named():
    echo = Echo(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    with pytest.raises(HarnessError) as caught:
        run_jobs([echo])
    assert str(caught.value) == (
        "pipe 1 (input 1 of Echo) has no producer among the jobs; feed it: inputs={1: [...]}"
    )
    with pytest.raises(HarnessError, match="no job of this sub-graph has pipe 9 as an input"):
        run_jobs([echo], inputs={1: [1], 9: [2]})
    twice = [Counter(outputs=[PicklePipe(1)]), Counter(outputs=[PicklePipe(1)])]
    with pytest.raises(HarnessError, match="pipe 1 is an output of both Counter and Counter"):
        run_jobs(twice)


SIMULATED_JOBS = """
from fission.core.jobs import PythonJob


class Numbers(PythonJob):
    def run(self):
        for number in range(1, 12):
            yield number if number % 4 else None  # 4 and 8 are not sent (no sqn used)


class Letters(PythonJob):
    def run(self):
        yield from "abcdefghijklmnopqrstuvw"


class Join(PythonJob):
    def run(self, numbers, letters):
        if numbers == 6:
            return None  # this round sends nothing
        return ((numbers, "".join(letters)),)


class Show(PythonJob):
    def run(self, pairs):
        print("got", pairs)
"""

SIMULATED_CONFIG = """
from fission.core.pipes import PicklePipe

from sim.jobs.jobs import Join, Letters, Numbers, Show
from sim.pipes.pipes import Pairs, Twos

JOBS = [
    Numbers(outputs=[PicklePipe(1)]),
    Letters(outputs=[Twos(2)]),
    Join(inputs=[PicklePipe(1), Twos(2)], outputs=[Pairs(3)]),
    Show(inputs=[Pairs(3)]),
]
"""

SIMULATED_PIPES = """
from fission.core.pipes import PicklePipe


class Twos(PicklePipe):
    BLOCK_COUNT = 2


class Pairs(PicklePipe):
    BLOCK_COUNT = 3
"""


def test_the_harness_sees_what_a_simulated_run_sees(project, capsys):
    folder = project.network(
        "sim", jobs=SIMULATED_JOBS, config=SIMULATED_CONFIG, pipes=SIMULATED_PIPES
    )
    result = project.manage("sim", "simulate", timeout=60)
    assert result.returncode == 0, result.stderr
    log = (folder / "simulation" / "4" / "job.log").read_text().splitlines()
    simulated = [line[10:] for line in log if line[8] == " "]
    network = load_network(project.root, "sim")
    harness = run_jobs(list(network.jobs))
    printed = capsys.readouterr().out.splitlines()
    assert printed == simulated
    assert printed == [
        "got [(1, 'ab'), (2, 'cd'), (3, 'ef')]",
        "got [(5, 'gh'), (7, 'kl')]",
        "got [(9, 'mn'), (10, 'op'), (11, 'qr')]",
    ]
    assert harness.of("Join").blocks[3][4] is None  # round 5 (numbers 6) sent nothing
