"""Producer and consumer ends of a pipe over a real socket pair: batching, credit, cumulative
acknowledgements, replay after reconnection, dedup, end of stream."""

from __future__ import annotations

import pickle
import socket
import time

from fission.runtime.framing import Kind
from fission.runtime.links import InputLink, OutputLink


def connect(out: OutputLink, inp: InputLink, resume_from: int = 0):
    a, b = socket.socketpair()
    out.attach(a, resume_from)
    inp.attach(b, out.acked, "test")
    return a, b


def pump(out: OutputLink, inp: InputLink, rounds: int = 50):
    for _ in range(rounds):
        out.send_some()
        if inp.sock is not None:
            inp.on_readable()
        if out.sock is not None:
            out.on_readable()
        if not out.unsent:
            break


def add_blocks(out: OutputLink, first: int, last: int):
    for sqn in range(first, last + 1):
        out.add(Kind.DATA, sqn, pickle.dumps(sqn))
    out.flush()


def sqns(inp: InputLink):
    return [item[0] for item in inp.queue]


def test_blocks_arrive_in_order_and_acks_free_the_replay_buffer():
    out, inp = OutputLink(3, 100, 1 << 20), InputLink(3, 1)
    connect(out, inp)
    add_blocks(out, 1, 10)
    pump(out, inp)
    assert sqns(inp) == list(range(1, 11))
    assert [pickle.loads(item[3]) for item in inp.queue] == list(range(1, 11))
    assert len(out.replay) == 1 and out.credit() == 90
    inp.send_ack(10)
    time.sleep(0.01)
    out.on_readable()
    assert out.acked == 10 and not out.replay and out.unacked_bytes == 0
    assert out.credit() == 100


def test_credit_window_in_blocks_and_bytes():
    out = OutputLink(1, 4, 1 << 20)
    add_blocks(out, 1, 4)
    assert out.credit() == 0
    big = OutputLink(2, 1000, 1000)
    big.add(Kind.DATA, 1, b"x" * 2000)
    big.flush()
    assert big.credit() == 0


def test_replay_after_reconnect_and_dedup():
    out, inp = OutputLink(5, 100, 1 << 20), InputLink(5, 1)
    a, b = connect(out, inp)
    add_blocks(out, 1, 6)
    pump(out, inp)
    inp.send_ack(3)
    time.sleep(0.01)
    out.on_readable()
    # the connection breaks; the consumer kept 1..6 and expects 7 next
    a.close()
    b.close()
    out.detach()
    inp.detach()
    add_blocks(out, 7, 8)  # produced while disconnected: kept in the replay buffer
    connect(out, inp, resume_from=inp.next_sqn)
    pump(out, inp)
    assert sqns(inp) == list(range(1, 9))  # nothing lost, nothing twice
    # a fresh consumer instance gets everything not yet acknowledged, from sqn 4 on
    fresh = InputLink(5, 1)
    out.detach()
    connect(out, fresh, resume_from=0)
    pump(out, fresh)
    assert sqns(fresh) == [4, 5, 6, 7, 8]
    assert fresh.base == 3


def test_duplicates_are_dropped_and_gaps_counted():
    out, inp = OutputLink(1, 100, 1 << 20), InputLink(1, 1)
    connect(out, inp)
    for sqn in (1, 2, 2, 1, 3, 6, 7):
        out.add(Kind.DATA, sqn, b"v")
    out.flush()
    pump(out, inp)
    assert sqns(inp) == [1, 2, 3, 6, 7]
    assert inp.duplicates == 2 and inp.gaps == 2


def test_end_of_stream_and_close():
    out, inp = OutputLink(1, 100, 1 << 20), InputLink(1, 1)
    connect(out, inp)
    add_blocks(out, 1, 3)
    out.end(3)
    out.flush()
    pump(out, inp)
    assert inp.eos == 3 and not out.done
    inp.send_ack(3)
    time.sleep(0.01)
    out.on_readable()
    assert out.done
    other_out, other_in = OutputLink(2, 100, 1 << 20), InputLink(2, 1)
    connect(other_out, other_in)
    add_blocks(other_out, 1, 2)
    other_in.send_close()
    time.sleep(0.01)
    other_out.on_readable()
    assert other_out.closed and other_out.done and not other_out.replay
