"""fission.testing with heads and optional inputs: the job host's rules, in-process."""

from __future__ import annotations

from fission.core.jobs import PythonJob
from fission.core.pipes import OptionalMixIn, PicklePipe
from fission.testing import Blocks, feed, run_jobs


class Mark(PythonJob):
    """Sets user bit 7 (0x01) on values above 2 and notes the heads it saw."""

    HEAD = True

    def setup(self):
        self.seen = []

    def run(self, value):
        self.seen.append(int(self.head))
        if value > 2:
            self.head[7] = 1
        return value


class Forward(PythonJob):
    def run(self, value):
        return value


class OperatorPipe(OptionalMixIn, PicklePipe):
    OPTIONAL_DEFAULT = "+"


class Calc(PythonJob):
    def run(self, value, operator):
        return value if operator == "+" else -value


def test_a_head_job_sees_its_input_heads_and_sets_its_own():
    job = Mark(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    result = feed(job, Blocks([1, 2, 3], heads=[0, 0x80, 0]))
    assert job.seen == [0, 0x80, 0]
    # round 2's corrupted input stays marked; round 3 carries the bit the job set
    assert result.heads[2] == [0, 0x80, 0x01]
    assert result.output == [1, 2, 3]


def test_a_job_without_head_passes_the_bits_on():
    result = feed(Forward(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]), Blocks([5, 6], [1, 0]))
    assert result.heads[2] == [0x01, 0]


def test_heads_travel_through_a_sub_graph():
    mark = Mark(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    forward = Forward(inputs=[PicklePipe(2)], outputs=[PicklePipe(3)])
    result = run_jobs([forward, mark], inputs={1: [1, 2, 3, 4]})
    assert result.of(forward).heads[3] == [0, 0, 0x01, 0x01]
    assert result.outputs[3] == [1, 2, 3, 4]


def test_an_optional_input_gives_its_default_then_the_last_value():
    calc = Calc(inputs=[PicklePipe(1), OperatorPipe(2)], outputs=[PicklePipe(3)])
    result = feed(calc, [1, 2, 3, 4], [None, "-", None])
    assert result.calls == [(1, "+"), (2, "-"), (3, "-"), (4, "-")]
    assert result.output == [1, -2, -3, -4]
