"""The job host's rounds without processes: optional inputs, gap policies and heads.

Blocks are put straight into the input links' queues (as the links would after reading them
from a socket) and the output frames are read back from the output links' batches.
"""

from __future__ import annotations

import pickle
import struct
import time

import pytest

from fission.core.head import CORRUPTED, FINISHED, Head
from fission.core.jobs import PythonJob
from fission.core.pipes import BasePipe, BytesPipe, JSONPipe, OptionalPicklePipe, PicklePipe
from fission.runtime.framing import FrameDecoder, Kind
from fission.runtime.host import ACK_AFTER, HostSpec, JobHost, _ack_step

DATA = int(Kind.DATA)
SKIP = int(Kind.SKIP)


class Record(PythonJob):
    """Returns its arguments as one tuple value (one output) and remembers them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def run(self, *args):
        self.calls.append(args)
        return (args,)


def make_host(job, number=1):
    job.id = number
    host = JobHost(job, HostSpec(job_id=number, epoch=1, listen="", control="", secret="00"))
    host._use_alarm = False  # no SIGALRM timers inside pytest
    return host


def feed(host, index, sqn, value, flags=0, pipe=None, kind=DATA):
    link = host.inputs[index]
    payload = (pipe or host.job.inputs[index]).pack(value) if kind == DATA else b""
    link.queue.append((sqn, kind, flags, payload))
    link.next_sqn = max(link.next_sqn, sqn + 1)


def sent(host, index=0):
    """(kind, flags, sqn, value) of every frame queued on output ``index``."""
    link = host.outputs[index]
    data = b"".join(b"".join(parts) for _, _, parts, _ in link.replay) + b"".join(link.batch)
    pipe = host.job.outputs[index]
    return [
        (f.kind, f.flags, f.sqn, pipe.unpack(f.payload) if f.kind == DATA else None)
        for f in FrameDecoder().feed(data)
    ]


def test_optional_input_takes_default_then_latest_and_keeps_it():
    class Operator(OptionalPicklePipe):
        OPTIONAL_DEFAULT = "*"
        OPTIONAL_BUFFER_SIZE = 1

    job = Record(inputs=[PicklePipe(1), Operator(2)], outputs=[PicklePipe(3)])
    host = make_host(job)
    for sqn in (1, 2):
        feed(host, 0, sqn, sqn)
    host._process_rounds()
    feed(host, 1, 1, "-")
    feed(host, 1, 2, "+")  # buffer of one: only the latest survives
    host._optional[0].trim()
    feed(host, 0, 3, 3)
    feed(host, 0, 4, 4)
    host._process_rounds()
    assert job.calls == [(1, "*"), (2, "*"), (3, "+"), (4, "+")]
    assert host.inputs[1].ack_sent == 0  # no socket: wanted, not sent
    assert host.inputs[1]._ack_wanted == 2  # both optional blocks are taken or dropped


def test_optional_input_without_store_falls_back_to_the_default():
    class Fresh(OptionalPicklePipe):
        OPTIONAL_DEFAULT = 0
        OPTIONAL_STORE = False

    job = Record(inputs=[PicklePipe(1), Fresh(2)], outputs=[PicklePipe(3)])
    host = make_host(job)
    feed(host, 1, 1, 7)
    feed(host, 1, 2, 8)
    for sqn in (1, 2, 3):
        feed(host, 0, sqn, sqn)
    host._process_rounds()
    # unbuffered (size 0): a queue, one value per round, then the default
    assert job.calls == [(1, 7), (2, 8), (3, 0)]


def test_optional_delete_mode_newest_keeps_the_oldest():
    class Keep(OptionalPicklePipe):
        OPTIONAL_BUFFER_SIZE = 1
        OPTIONAL_DELETE_MODE = "newest"

    job = Record(inputs=[Keep(2), PicklePipe(1)], outputs=[PicklePipe(3)])
    host = make_host(job)
    for sqn, value in enumerate("abc", start=1):
        feed(host, 0, sqn, value)
    host._optional[0].trim()
    feed(host, 1, 1, 1)
    host._process_rounds()
    assert job.calls == [("a", 1)]  # optional first in the argument order, as declared


@pytest.mark.parametrize(
    ("pipe", "values", "expected"),
    [
        (PicklePipe(1), [10, 30], [10, 10, 30]),  # "previous" (default for pickle)
        (JSONPipe(1), [10, 30], [10, 10, 30]),  # "previous" (default for JSON)
        (BytesPipe(1, 2), [b"ab", b"cd"], [b"ab", b"\0\0", b"cd"]),  # "dummy": zeros
    ],
)
def test_default_gap_policies_fill_and_flag_the_lost_round(pipe, values, expected):
    job = Record(inputs=[pipe], outputs=[PicklePipe(2)])
    host = make_host(job)
    feed(host, 0, 1, values[0])
    feed(host, 0, 3, values[1])  # sqn 2 was lost
    host._process_rounds()
    assert [call[0] for call in job.calls] == expected
    frames = sent(host)
    assert [(f[1], f[2]) for f in frames] == [(0, 1), (CORRUPTED, 2), (0, 3)]
    assert host.flagged_blocks == 1


def test_gap_policy_skip_and_custom_dummy():
    class Skipping(PicklePipe):
        GAP_POLICY = "skip"

    class Silence(BytesPipe):
        BLOCK_SIZE = 2

        def get_dummy(self):
            return b"--"

    job = Record(inputs=[Skipping(1), Silence(2)], outputs=[PicklePipe(3)])
    host = make_host(job)
    feed(host, 0, 1, "a")
    feed(host, 1, 1, b"x1")
    feed(host, 0, 3, "c")
    feed(host, 1, 3, b"x3")  # sqn 2 lost on both inputs
    host._process_rounds()
    assert job.calls == [("a", b"x1"), (None, b"--"), ("c", b"x3")]
    assert [f[1] for f in sent(host)] == [0, CORRUPTED, 0]


def test_block_count_gap_inside_a_group_is_filled_in_place():
    class Triples(PicklePipe):
        BLOCK_COUNT = 3

    job = Record(inputs=[Triples(1)], outputs=[PicklePipe(2)])
    host = make_host(job)
    for sqn in (1, 3, 4, 5, 6):
        feed(host, 0, sqn, sqn * 10)
    host._process_rounds()
    assert job.calls == [([10, 10, 30],), ([40, 50, 60],)]


def test_user_head_bits_pass_through_plain_jobs():
    job = Record(inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3)])
    host = make_host(job)
    feed(host, 0, 1, "a", flags=0x01)
    feed(host, 1, 1, "b", flags=0x04)
    feed(host, 0, 2, "c")
    feed(host, 1, 2, "d", flags=FINISHED)  # the finished bit belongs to that stream only
    host._process_rounds()
    assert [(f[1], f[2]) for f in sent(host)] == [(0x05, 1), (0, 2)]


def test_single_input_fast_path_hands_flagged_blocks_over():
    job = Record(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    host = make_host(job)
    feed(host, 0, 1, 1)
    feed(host, 0, 2, 2, flags=0x02)
    feed(host, 0, 3, 3)
    host._process_rounds()
    host._process_rounds()
    assert [(f[1], f[2]) for f in sent(host)] == [(0, 1), (0x02, 2), (0, 3)]


class Marker(PythonJob):
    """HEAD job: sets user bit 7 (0x01) when the sum reaches 10; output 2 gets its own head."""

    HEAD = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def run(self, a, b):
        self.seen.append((list(self.in_heads), Head(self.head)))
        total = a + b
        if total >= 10:
            self.head[7] = 1
        self.out_heads[1] = Head(0b00010000)
        return (total, total)


def test_head_job_reads_in_heads_and_writes_out_heads():
    job = Marker(inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3), PicklePipe(4)])
    host = make_host(job)
    feed(host, 0, 1, 2, flags=0x02)
    feed(host, 1, 1, 3)
    feed(host, 0, 2, 5)
    feed(host, 1, 2, 6, flags=CORRUPTED)
    host._process_rounds()
    assert job.seen[0] == ([Head(0x02), Head(0)], Head(0x02))
    assert job.seen[1][1] == Head(CORRUPTED)
    assert [(f[1], f[3]) for f in sent(host, 0)] == [(0x02, 5), (CORRUPTED | 0x01, 11)]
    # out_heads[1] replaces the user bits; corrupted input stays flagged
    assert [(f[1], f[3]) for f in sent(host, 1)] == [(0x10, 5), (CORRUPTED | 0x10, 11)]


def test_head_reduce_can_be_overridden():
    class AndJob(Marker):
        def head_reduce(self):
            result = Head(0xFF)
            for head in self.in_heads:
                result &= head
            return result

    job = AndJob(inputs=[PicklePipe(1), PicklePipe(2)], outputs=[PicklePipe(3), PicklePipe(4)])
    host = make_host(job)
    feed(host, 0, 1, 1, flags=0x03)
    feed(host, 1, 1, 1, flags=0x06)
    host._process_rounds()
    assert job.seen[0][1] == Head(0x02)


def test_custom_read_and_write_run_inside_the_frame():
    class Framed(BasePipe):
        """A custom stream format: a 1-byte length before the value (the original's hooks)."""

        def pack(self, value):
            return struct.pack("<h", value)

        def unpack(self, data):
            return struct.unpack("<h", data)[0]

        def write(self, file, data):
            file.write(bytes([len(data)]) + data)

        def read(self, file):
            return file.read(file.read(1)[0])

    pipe = Framed(1)
    encoded = pipe.encoder()(513)
    assert encoded == b"\x02\x01\x02"
    assert pipe.decoder()(encoded) == 513
    with pytest.raises(ValueError, match="left 1 of the block's 4 bytes unread"):
        pipe.decoder()(encoded + b"!")


def test_pickle_payloads_are_decoded_once():
    job = Record(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)])
    host = make_host(job)
    feed(host, 0, 1, {"a": 1})
    host._process_rounds()
    assert sent(host)[0][3] == ({"a": 1},)
    assert pickle.loads(pickle.dumps(job.calls[0][0])) == {"a": 1}


def test_only_a_batch_timer_running_out_in_user_code_marks_a_job_slow():
    # _wake interrupts user code with the same signal (a connection to hand over): that says
    # nothing about the job's speed. Taking it for slowness once sent a whole 64 KiB executable
    # chain down the round-by-round path.
    host = make_host(Record(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]))
    host._in_user_code = True
    host._on_alarm(14, None)  # a wake-up: no batch timer was armed
    assert not host._slow
    host._armed = True  # the timer of a batch still small FLUSH_AFTER later
    host._on_alarm(14, None)
    assert host._slow


def test_a_busy_job_acknowledges_within_ack_after_even_between_steps():
    # with big blocks the byte window holds fewer blocks than an acknowledgement step: the
    # producer would stop until this job went idle, then start again
    host = make_host(Record(inputs=[PicklePipe(1)], outputs=[PicklePipe(2)]))
    link, out = host.inputs[0], host.outputs[0]
    out.acked = 10  # ten rounds are safe downstream, far fewer than a step
    assert host._ack_step > 10
    host._acked_at = time.monotonic()
    due = host._acknowledge_inputs(everything=False)
    assert link._ack_wanted == 0  # just acknowledged: wait for the step or the time
    assert 0 < due <= ACK_AFTER  # how long the host may wait for I/O before it must
    host._acked_at -= ACK_AFTER
    assert host._acknowledge_inputs(everything=False) is None
    assert link._ack_wanted == 10


def test_a_sink_acknowledges_in_steps_too():
    # a sink's rounds are done when run() returns, but acknowledging each batch at once woke
    # its producer for every few blocks; ACK_AFTER later is as safe (nothing is lost: the
    # producer keeps the blocks until then)
    host = make_host(Record(inputs=[PicklePipe(1)]))
    link = host.inputs[0]
    host.round = 3
    host._acked_at = time.monotonic()
    assert 0 < host._acknowledge_inputs(everything=False) <= ACK_AFTER
    assert link._ack_wanted == 0
    host._acknowledge_inputs(everything=True)  # at the end of the stream
    assert link._ack_wanted == 3


def test_the_acknowledgement_step_is_an_eighth_of_the_window_in_blocks_and_bytes():
    window_blocks, window_bytes = 4096, 16 * 1024 * 1024
    assert _ack_step([PicklePipe(1)], window_blocks, window_bytes) == 512  # size unknown
    assert _ack_step([BytesPipe(1, 8)], window_blocks, window_bytes) == 512
    assert _ack_step([BytesPipe(1, 64 * 1024)], window_blocks, window_bytes) == 32
    assert _ack_step([BytesPipe(1, 8, 16)], window_blocks, window_bytes) == 32  # 16 per round
    assert _ack_step([BytesPipe(1, 8 << 20)], window_blocks, window_bytes) == 1
