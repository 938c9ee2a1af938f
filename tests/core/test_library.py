"""The job and pipe library at load time: heads, optional pipes, gap policies, whitelists, the
original's stream hooks, class attributes, and the built-in jobs as plain objects."""

from __future__ import annotations

import io
import json
import pickle
import re

import pytest
from tests.core.conftest import JOBS

from fission.core.errors import JobError, PipeError
from fission.core.head import CORRUPTED, FINISHED, RESET, Head, outgoing_flags, reduce_or
from fission.core.jobs import (
    CSVSinkJob,
    DistributingJob,
    ForwardingJob,
    LoggingJob,
    PythonJob,
)
from fission.core.pipes import BasePipe, BytesPipe, JSONPipe, OptionalBytesPipe, PicklePipe

# -- Head ------------------------------------------------------------------------------------


def test_head_bits_are_numbered_from_the_most_significant():
    head = Head(0b1000_0001)
    assert head[0] == 1 and head[7] == 1 and head[3] == 0
    assert head.corrupted and not head.reset and not head.finished and head.user == 1
    assert head[3:] == [0, 0, 0, 0, 1]
    assert head[-1] == 1
    head[3] = 1
    assert int(head) == 0b1001_0001
    head[0] = 0
    assert head == 0b0001_0001


def test_head_operators_and_truthiness():
    assert not Head()  # the original's Head was always truthy
    assert Head(1)
    a, b = Head(0b0000_0011), Head(0b0000_0110)
    assert (a & b) == 0b10 and (a | b) == 0b111 and (a ^ b) == 0b101
    assert (a & 2) == Head(2) and (2 | a) == 3
    assert (a << 7) == 0b1000_0000  # cut to one byte
    assert (a >> 1) == 1
    assert ~Head(0x0F) == 0xF0
    assert not (Head(1) & 2)
    assert Head(5).to_bytes() == b"\x05" and Head.from_bytes(b"\x05") == 5
    assert len(Head()) == 8


def test_head_rejects_the_reset_bit_and_bad_values():
    head = Head()
    with pytest.raises(ValueError, match="reset bit"):
        head[1] = 1
    head[1] = 0  # clearing is fine
    with pytest.raises(IndexError):
        head[8]
    with pytest.raises(ValueError, match="one byte"):
        Head(256)


def test_outgoing_flags_keep_fission_bits_right():
    assert reduce_or([Head(1), [Head(2), Head(4)]]) == 7
    # nothing written: the inputs' corrupted and user bits pass on, never reset/finished
    assert outgoing_flags(None, CORRUPTED | RESET | FINISHED | 0x03, False) == CORRUPTED | 0x03
    # written: the job's user bits; corrupted inputs stay flagged; finished only when asked
    assert outgoing_flags(Head(0x10 | RESET), CORRUPTED | 0x03, True) == CORRUPTED | 0x10 | FINISHED
    assert outgoing_flags(0, 0x03, False) == 0


# -- pipes --------------------------------------------------------------------------------------


def test_read_wrapper_cuts_blocks_of_each_stream_format():
    stream = io.BytesIO(pickle.dumps({"a": [1, "x" * 500]}) + pickle.dumps(None))
    pipe = PicklePipe(1)
    assert pickle.loads(pipe.read_wrapper(stream)) == {"a": [1, "x" * 500]}
    assert pickle.loads(pipe.read_wrapper(stream)) is None
    assert pipe.read_wrapper(stream) is None
    with pytest.raises(PipeError, match="not a pickle stream"):
        pipe.read_wrapper(io.BytesIO(b"\x80\x04K"))

    lines = io.BytesIO(b'{"a": 1}\n\n[2, 3]\n')
    json_pipe = JSONPipe(2)
    assert json.loads(json_pipe.read_wrapper(lines)) == {"a": 1}
    assert json.loads(json_pipe.read_wrapper(lines)) == [2, 3]
    assert json_pipe.read_wrapper(lines) is None
    out = io.BytesIO()
    json_pipe.write_wrapper(out, b"[1]")
    assert out.getvalue() == b"[1]\n"

    blocks = BytesPipe(3, 4)
    data = io.BytesIO(b"abcdefg")
    assert blocks.read_wrapper(data) == b"abcd"
    with pytest.raises(PipeError, match="ended inside a block"):
        blocks.read_wrapper(data)


def test_dummy_payloads():
    class Silence(BytesPipe):
        BLOCK_SIZE = 3

        def get_dummy(self):
            return b"---"

    class WrongDummy(BytesPipe):
        BLOCK_SIZE = 3

        def get_dummy(self):
            return b"-"

    assert BytesPipe(1, 4).dummy_payload() == b"\0\0\0\0"
    assert Silence(2).dummy_payload() == b"---"
    assert WrongDummy(3).dummy_payload() == b"\0\0\0"  # wrong size: zeros, as the original
    assert PicklePipe(4).dummy_payload() is None
    assert (BytesPipe.GAP_POLICY, PicklePipe.GAP_POLICY, JSONPipe.GAP_POLICY) == (
        "dummy",
        "previous",
        "previous",
    )


def test_optional_pipes_are_async_with_the_original_defaults():
    pipe = OptionalBytesPipe(1, 8)
    assert pipe.ASYNC and pipe.block_size == 8
    assert (pipe.OPTIONAL_DEFAULT, pipe.OPTIONAL_STORE, pipe.OPTIONAL_BUFFER_SIZE) == (
        None,
        True,
        0,
    )
    assert pipe.OPTIONAL_DELETE_MODE == "oldest"


# -- load-time checks ---------------------------------------------------------------------------

PIPES_AND_JOBS = (
    JOBS
    + """
from fission.core.jobs import PythonJob
from fission.core.pipes import OptionalPicklePipe, PicklePipe


class Calibrator(PythonJob):
    def run(self):
        yield 1


class Recorder(PythonJob):
    def run(self, value):
        pass


class Printer(Recorder):
    pass


class Both(PythonJob):
    def run(self, a, b):
        pass


class CalibratedPipe(PicklePipe):
    SOURCE_JOBS = [Calibrator]
    DESTINATION_JOBS = Recorder


class Wobbly(PicklePipe):
    GAP_POLICY = "interpolate"


class Grouped(OptionalPicklePipe):
    BLOCK_COUNT = 2


class Headless(PythonJob):
    HEAD = "yes"

    def run(self):
        yield 1
"""
)

IMPORTS = (
    "from net.jobs.jobs import Calibrator, Recorder, Printer, Both, CalibratedPipe, Wobbly, "
    "Grouped, Headless\nfrom fission.core.pipes import OptionalPicklePipe\n"
)


def test_whitelists_name_the_config_line_job_and_pipe(load):
    network = load(
        IMPORTS
        + "JOBS = [Calibrator(outputs=[CalibratedPipe(1)]), Recorder(inputs=[CalibratedPipe(1)])]",
        jobs=PIPES_AND_JOBS,
    )
    assert len(network.jobs) == 2
    with pytest.raises(PipeError) as info:
        load(
            IMPORTS + "JOBS = [\n    Calibrator(outputs=[CalibratedPipe(1)]),\n"
            "    Printer(inputs=[CalibratedPipe(1)]),\n]",
            jobs=PIPES_AND_JOBS,
        )
    assert re.fullmatch(
        r".*config\.py:\d+: Printer 2: pipe 1 \(CalibratedPipe\(1\)\) only accepts consumers of "
        r"type Recorder \(DESTINATION_JOBS\), not Printer; .*",
        str(info.value),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "JOBS = [Calibrator(outputs=[Wobbly(1)]), Recorder(inputs=[Wobbly(1)])]",
            r"Recorder 2: pipe 1 \(Wobbly\(1\)\): GAP_POLICY is 'interpolate'; choose one of "
            r"'dummy', 'previous', 'skip'",
        ),
        (
            "JOBS = [Calibrator(outputs=[Grouped(1)]), Calibrator(outputs=[PicklePipe(2)]), "
            "Both(inputs=[PicklePipe(2), Grouped(1)])]",
            r"an optional \(ASYNC\) pipe delivers one value per round; remove BLOCK_COUNT = 2",
        ),
        (
            "JOBS = [Headless(outputs=[Grouped(1)]), Recorder(inputs=[Grouped(1)])]",
            r"Headless 1: HEAD must be True or False, got 'yes'",
        ),
        (
            "JOBS = [Calibrator(outputs=[OptionalPicklePipe(1)]), "
            "Recorder(inputs=[OptionalPicklePipe(1)])]",
            r"Recorder 2 has only optional inputs and no outputs",
        ),
    ],
)
def test_pipe_and_job_options_are_checked_at_load(load, body, message):
    with pytest.raises((PipeError, JobError)) as info:
        load(IMPORTS + body, jobs=PIPES_AND_JOBS)
    assert re.search(message, str(info.value)), str(info.value)
    assert "config.py:" in str(info.value)


def test_optional_pipes_may_close_a_cycle(load):
    network = load(
        IMPORTS
        + """
JOBS = [
    Calibrator(outputs=[PicklePipe(1)]),
    Both(inputs=[PicklePipe(1), OptionalPicklePipe(3)], outputs=[PicklePipe(2)]),
    Middle(inputs=[PicklePipe(2)], outputs=[OptionalPicklePipe(3)]),
]
""",
        jobs=PIPES_AND_JOBS,
    )
    assert len(network.connections) == 3


def test_custom_attributes_survive_a_fresh_load(load, tmp_path):
    """Attributes set in config.py are there in every process that loads it (the servers)."""
    body = IMPORTS + (
        "Recorder.THRESHOLD = 7\n"
        "sink = Recorder(inputs=[PicklePipe(1)])\n"
        "sink.label = 'left'\n"
        "JOBS = [Calibrator(outputs=[PicklePipe(1)]), sink]\n"
    )
    first = load(body, jobs=PIPES_AND_JOBS)
    import subprocess
    import sys

    script = (
        "from pathlib import Path\nfrom fission.core.loader import load_network\n"
        f"network = load_network(Path({str(tmp_path)!r}), 'net')\n"
        "job = network.job(2)\n"
        "print(job.THRESHOLD, job.label)\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split() == ["7", "left"]
    assert (first.job(2).THRESHOLD, first.job(2).label) == (7, "left")


# -- built-in jobs as plain objects -------------------------------------------------------------


def test_forwarding_and_distributing_keep_tuples_whole():
    forward = ForwardingJob(
        inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3), PicklePipe(4)]
    )
    assert forward.run((1, 2), "b") == ((1, 2), "b")
    spread = DistributingJob(inputs=[PicklePipe(1)], outputs=[PicklePipe(2), PicklePipe(3)])
    assert spread.run((1, 2)) == ((1, 2), (1, 2))


def test_logging_job_adds_a_log_row_to_its_outputs():
    class Square(LoggingJob):
        def run_job(self, value):
            return value * value

    job = Square(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)], logging_output=PicklePipe(9))
    job.id = 3
    assert [p.id for p in job.outputs] == [2, 9]
    value, row = job.run(4)
    assert value == 16
    assert row["job"] == "Square 3" and row["round"] == 1
    assert row["time_out"] >= row["time_in"] and row["delay"] >= 0 and row["cpu"] >= 0
    assert set(row) >= {"pid", "cpu_percent", "maxrss_kib"}
    assert job.run(5)[1]["round"] == 2

    class Counter(LoggingJob):
        def run_job(self):
            yield from (1, 2)

    source = Counter(outputs=[PicklePipe(2)], logging_output=PicklePipe(9))
    assert [value for value, _ in source.run()] == [1, 2]
    with pytest.raises(JobError, match="logging_output"):
        Square(inputs=[PicklePipe(1)])

    class Scaled(LoggingJob):
        def init_job(self, factor, offset=0):
            self.factor, self.offset = factor, offset

        def run_job(self, value):
            return value * self.factor + self.offset

    scaled = Scaled(
        3, inputs=[PicklePipe(1)], outputs=[PicklePipe(2)], offset=1, logging_output=PicklePipe(9)
    )
    assert scaled.run(2)[0] == 7
    with pytest.raises(JobError, match=r"got arguments 5 but defines no init_job"):
        Square(5, inputs=[PicklePipe(1)], logging_output=PicklePipe(9))
    assert scaled.is_async() is False and source.is_async() is True


def test_csv_sink_header_uses_the_column_pattern(tmp_path):
    sink = CSVSinkJob(
        str(tmp_path / "out.csv"),
        inputs=[PicklePipe(5), PicklePipe(6)],
        col_pattern="{job.path}-{pipe.id}",
    )
    sink.setup()
    sink.run(1, None)
    sink.run("a,b", [1, 2])
    sink.teardown()
    path = tmp_path / "out.csv"
    assert path.read_text() == f'{path}-5,{path}-6\n1,\n"a,b","[1, 2]"\n'
    assert issubclass(CSVSinkJob, PythonJob) and CSVSinkJob.GROUPS == "LOCAL"


def test_clock_job_ticks_on_a_fixed_schedule():
    import time

    from fission.core.jobs import ClockJob

    clock = ClockJob(outputs=[PicklePipe(1)], clock_interval=0.02, count=5)
    started = time.monotonic()
    ticks = list(clock.run())
    elapsed = time.monotonic() - started
    assert ticks == [1] * 5
    assert 0.08 <= elapsed < 1.0  # ticks at 0, 0.02, ..., 0.08 s
    with pytest.raises(JobError, match="clock_interval must be a positive number"):
        ClockJob(outputs=[PicklePipe(1)], clock_interval=0)


def test_custom_pipe_with_an_integer_block_size_is_size_checked():
    class Pair(BasePipe):
        BLOCK_SIZE = 2

        def pack(self, value):
            return bytes(value)

        def unpack(self, data):
            return list(data)

    encode = Pair(1).encoder()
    assert encode([1, 2]) == b"\x01\x02"
    with pytest.raises(ValueError, match=r"Pair\(1\) carries blocks of 2 bytes, got 3"):
        encode([1, 2, 3])
    assert Pair(1).read_wrapper(io.BytesIO(b"\x01\x02\x03")) == b"\x01\x02"
