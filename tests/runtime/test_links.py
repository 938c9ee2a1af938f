"""Producer and consumer ends of a pipe over a real socket pair: batching, credit, cumulative
acknowledgements, replay after reconnection, dedup, end of stream."""

from __future__ import annotations

import array
import fcntl
import os
import pickle
import socket
import termios
import time

import pytest

from fission.core.errors import ProtocolError
from fission.runtime import links
from fission.runtime.framing import HEADER, HEADER_SIZE, Kind, encode, run_length
from fission.runtime.links import GIVEN, InputLink, OutputLink, run_frames
from fission.runtime.pagestore import Held, PageStore


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


class CountingSocket(socket.socket):
    """A real socket that remembers how many bytes each sendmsg was offered."""

    offers: list[int]

    def sendmsg(self, buffers, *args):
        self.offers.append(sum(len(piece) for piece in buffers))
        return super().sendmsg(buffers, *args)


def test_a_full_socket_is_offered_nothing_more_until_it_is_writable():
    # each piece offered costs the producer a little even if the socket takes none of it: a
    # source with its whole window unsent offered hundreds of pieces to a full socket, and
    # half of its writes took nothing
    a, b = socket.socketpair()
    sender = CountingSocket(fileno=a.detach())
    sender.offers = []
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    out.attach(sender, 0)
    inp.attach(b, 0, "test")
    payload = os.urandom(64 * 1024)
    for sqn in range(1, 65):
        out.add(Kind.DATA, sqn, payload)
    out.flush()
    assert out.unsent, "4 MiB should not fit in the socket"
    assert all(offer <= links._SEND_BYTES + len(payload) + HEADER_SIZE for offer in sender.offers)
    offers = len(sender.offers)
    for sqn in range(65, 69):
        out.add(Kind.DATA, sqn, payload)
    out.flush()
    assert len(sender.offers) == offers  # full: the job host waits until it is writable
    for _ in range(1000):
        inp.on_readable()
        if out.send_some() and len(inp.queue) == 68:
            break
    assert sqns(inp) == list(range(1, 69))
    assert all(item[3] == payload for item in inp.queue)


def test_big_frames_are_read_one_at_a_time_whole_split_or_followed_by_small_ones():
    # after a big frame the consumer reads the next header, then the payload on its own (no
    # copy out of a bigger read); anything else goes back to reading the usual way
    a, b = socket.socketpair()
    inp = InputLink(1, 1)
    inp.attach(b, 0, "test")
    blocks = [os.urandom(64 * 1024) for _ in range(4)]
    frames = [encode(Kind.DATA, 1, sqn, blocks[sqn - 1]) for sqn in range(1, 5)]
    a.sendall(frames[0])
    inp.on_readable()
    assert sqns(inp) == [1] and inp._big
    a.sendall(frames[1] + frames[2][: HEADER_SIZE + 1000])  # the third one only begun
    inp.on_readable()
    assert sqns(inp) == [1, 2]
    a.sendall(frames[2][HEADER_SIZE + 1000 :] + frames[3][:HEADER_SIZE])
    inp.on_readable()
    a.sendall(frames[3][HEADER_SIZE:] + encode(Kind.DATA, 1, 4, blocks[3]))  # a duplicate
    a.sendall(encode(Kind.DATA, 1, 5, b"small") + encode(Kind.EOS, 1, 5))
    for _ in range(5):
        inp.on_readable()
    assert sqns(inp) == [1, 2, 3, 4, 5]
    assert [item[3] for item in inp.queue] == [*blocks, b"small"]
    assert inp.duplicates == 1 and inp.eos == 5 and not inp._big
    a.sendall(encode(Kind.DATA, 1, 6, blocks[0]))
    inp.on_readable()
    a.sendall(encode(Kind.DATA, 9, 7, blocks[0]))  # another pipe's frame
    with pytest.raises(ProtocolError, match="malformed frame"):
        inp.on_readable()
    assert sqns(inp)[-1] == 6 and inp.sock is None


def spliced_frames(count: int, first: int = 1, size: int = 64 * 1024):
    """A pipe holding ``count`` blocks, and the Spliced frames for them."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 1 << 20)  # F_SETPIPE_SZ
    blocks = [os.urandom(size) for _ in range(count)]
    for block in blocks:
        os.write(write_end, block)
    headers = [HEADER.pack(Kind.DATA, 0, 1, sqn, size) for sqn in range(first, first + count)]
    return links.Spliced(read_end, headers, [size] * count), blocks, write_end


def held(out: OutputLink) -> int:
    """Replay bytes the link keeps as page references rather than copies."""
    return sum(part for _, _, parts, _ in out.replay for part in parts if type(part) is Held)


def test_spliced_frames_go_from_the_pipe_into_the_socket_and_stay_for_replay():
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    a, _ = connect(out, inp)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    spliced, blocks, _ = spliced_frames(8)
    assert out.may_splice()
    assert out.send_spliced(spliced, 1, 8)
    assert links.bytes_waiting(spliced.source) == 0 and not out.unsent
    assert held(out) == out.store.held == 8 * 64 * 1024  # no copies: pages kept by tee
    pump(out, inp)
    assert sqns(inp) == list(range(1, 9))
    assert [item[3] for item in inp.queue] == blocks
    assert out.last_sqn == 8 and out.credit() == 10_000 - 8
    # the consumer restarts having acknowledged 3 blocks: the kept pages answer the replay
    out.acknowledge(3)
    fresh = InputLink(1, 1)
    connect(out, fresh, resume_from=4)
    pump(out, fresh)
    assert [item[3] for item in fresh.queue if item[0] >= 4] == blocks[3:]


def test_acknowledged_spliced_frames_leave_the_store():
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    a, _ = connect(out, inp)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    for first in (1, 9, 17):  # 1.5 MiB: more than one store pipe
        spliced, _, _ = spliced_frames(8, first=first)
        assert out.send_spliced(spliced, first, first + 7)
    assert out.store.held == 24 * 64 * 1024
    out.acknowledge(8)
    assert out.store.held == held(out) == 16 * 64 * 1024
    inp.send_ack(24)  # the consumer acknowledges everything
    time.sleep(0.01)
    out.on_readable()
    assert out.acked == 24 and out.store.held == 0 and not out.replay
    out.close()
    assert out.store is None


def test_past_its_store_limit_a_link_keeps_copies():
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    a, _ = connect(out, inp)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    out.store = PageStore(limit=3 * 64 * 1024 + 1000)
    spliced, blocks, _ = spliced_frames(6)
    assert out.send_spliced(spliced, 1, 6)
    assert held(out) == 3 * 64 * 1024 + 1000  # the rest as copies (and sent from them)
    assert links.bytes_waiting(spliced.source) == 0
    pump(out, inp)
    assert [item[3] for item in inp.queue] == blocks
    out.detach()
    fresh = InputLink(1, 1)
    connect(out, fresh)
    pump(out, fresh)
    assert [item[3] for item in fresh.queue] == blocks
    assert out.store.held == 0


def test_spliced_frames_the_socket_cannot_take_are_queued_from_their_copies():
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 200 * 1024)
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    out.attach(a, 0)
    inp.attach(b, 0, "test")
    spliced, blocks, _ = spliced_frames(14)
    assert out.send_spliced(spliced, 1, 14)
    assert out.unsent, "900 KiB should not fit in the socket"
    assert links.bytes_waiting(spliced.source) == 0  # what was not moved was taken out of the pipe
    more, more_blocks, _ = spliced_frames(2, first=15)
    assert not out.may_splice() and not out.send_spliced(more, 15, 16)
    assert links.bytes_waiting(more.source) == 2 * 64 * 1024  # left for the caller to read
    out.batch.extend(more.read())
    out.last_sqn = 16
    out.flush()
    for _ in range(1000):
        inp.on_readable()
        if out.send_some() and len(inp.queue) == 16:
            break
    assert sqns(inp) == list(range(1, 17))
    assert [item[3] for item in inp.queue] == blocks + more_blocks


def test_where_splice_cannot_move_the_frames_their_copies_are_sent(tmp_path):
    # tee and splice need a pipe on one side: from a file they say EINVAL, which is no
    # broken connection; the link sends copies instead
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    connect(out, inp)
    spliced, blocks, _ = spliced_frames(2, size=1000)
    stored = tmp_path / "payloads"
    stored.write_bytes(b"".join(blocks))
    with open(stored, "rb") as source:
        assert out.send_spliced(links.Spliced(source.fileno(), *spliced[1:]), 1, 2)
        assert source.tell() == 2000  # taken out all the same
    assert out.sock is not None and held(out) == 0
    pump(out, inp)
    assert [item[3] for item in inp.queue] == blocks


def test_spliced_frames_survive_a_broken_connection_in_the_replay_buffer():
    out, inp = OutputLink(1, 10_000, 64 << 20), InputLink(1, 1)
    _, b = connect(out, inp)
    b.close()  # the consumer died
    spliced, blocks, _ = spliced_frames(4)
    out.send_spliced(spliced, 1, 4)
    assert out.sock is None and links.bytes_waiting(spliced.source) == 0
    fresh = InputLink(1, 1)
    connect(out, fresh)  # its successor: everything unacknowledged is sent again
    pump(out, fresh)
    assert sqns(fresh) == [1, 2, 3, 4]
    assert [item[3] for item in fresh.queue] == blocks


def test_a_page_store_gives_its_bytes_back_in_order_across_its_pipes():
    store = PageStore()
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 1 << 20)
    sent = []
    for _ in range(5):  # 5 x 640 KiB through a 1 MiB pipe: the store needs several
        chunk = os.urandom(640 * 1024)
        os.write(write_end, chunk)
        kept = 0
        while kept < len(chunk):
            step = store.take(read_end, len(chunk) - kept)
            assert step > 0
            os.read(read_end, step)  # the source moves on, as a splice would move it
            kept += step
        sent.append(chunk)
    everything = b"".join(sent)
    assert store.held == len(everything)
    store.drop(1000)
    assert store.read(700 * 1024) == everything[1000 : 1000 + 700 * 1024]
    rest = everything[1000 + 700 * 1024 :]
    assert store.read(len(rest)) == rest and store.held == 0
    store.close()


# -- an input feeding a program's pipe directly (splice) ------------------------------------
BIG = 32 * 1024


class PipeFeed:
    """A program's input pipe as the executable bridge offers it (see _DirectFeed), with the
    program's progress set by the test: ``done`` rounds finished, ``written`` the last given."""

    def __init__(self, limit: int) -> None:
        self.read_end, self.fd = os.pipe()
        os.set_blocking(self.fd, False)
        fcntl.fcntl(self.fd, 1031, 1 << 20)  # F_SETPIPE_SZ, as the bridge does
        self.block_size = BIG
        self.limit = limit
        self.done = self.written = 0

    def room(self, received: int) -> int:
        given = max(self.written, self.done)
        return 0 if given != received else self.done + self.limit - given

    def given(self, sqn: int) -> None:
        self.written = sqn

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def contents(self) -> bytes:
        os.set_blocking(self.read_end, False)
        try:
            return os.read(self.read_end, 1 << 24)
        except BlockingIOError:
            return b""


def block(n: int) -> bytes:
    return bytes([n % 251]) * BIG


def feeding(limit: int = 8) -> tuple[socket.socket, InputLink, PipeFeed]:
    producer, consumer = socket.socketpair()
    for sock in (producer, consumer):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    link = InputLink(4, 1)
    link.views = True
    link.feed = feed = PipeFeed(limit)
    link.attach(consumer, 0, "test")
    return producer, link, feed


def frame(sqn: int, kind: int = Kind.DATA, flags: int = 0, payload: bytes | None = None) -> bytes:
    body = block(sqn) if payload is None and kind == Kind.DATA else (payload or b"")
    return encode(kind, 4, sqn, body, flags)


def test_plain_blocks_go_into_the_program_pipe_without_being_read():
    producer, link, feed = feeding()
    producer.sendall(b"".join(frame(n) for n in range(1, 6)))
    assert link.on_readable()
    assert [(sqn, payload is GIVEN) for sqn, _k, _f, payload in link.queue] == [
        (n, True) for n in range(1, 6)
    ]
    assert feed.contents() == b"".join(block(n) for n in range(1, 6))
    assert feed.written == 5 and link.next_sqn == 6 and link.received == 5


def test_a_full_program_holds_the_rest_in_the_socket_until_it_has_room():
    producer, link, feed = feeding(limit=3)
    producer.sendall(b"".join(frame(n) for n in range(1, 6)))
    link.on_readable()
    assert len(link.queue) == 3 and link.held and not link.may_read()
    assert _waiting(link) == 2 * (HEADER_SIZE + BIG)  # not read: nothing copied
    feed.done = 3  # the program did its rounds
    link.queue.clear()
    assert link.may_read()
    link.held = False
    link.on_readable()
    assert [sqn for sqn, *_ in link.queue] == [4, 5]
    assert feed.contents() == b"".join(block(n) for n in range(1, 6))


def test_other_frames_are_queued_as_usual_and_moving_resumes_after_them():
    producer, link, feed = feeding()
    producer.sendall(frame(1) + frame(2, Kind.SKIP) + frame(3, flags=0x01))
    link.on_readable()
    kinds = [(sqn, kind, payload is GIVEN) for sqn, kind, _f, payload in link.queue]
    assert kinds == [(1, Kind.DATA, True), (2, Kind.SKIP, False)]
    assert link.held  # round 2 is not done yet: order comes first
    feed.done = 2  # the program did round 1; round 2 was owed nothing
    assert link.may_read()
    link.held = False
    link.on_readable()
    assert link.queue[2][0] == 3 and bytes(link.queue[2][3]) == block(3)  # flagged: kept
    producer.sendall(frame(4) + frame(4) + frame(5) + encode(Kind.EOS, 4, 5))
    link.on_readable()
    assert link.held and len(link.queue) == 3  # block 3 must reach the program first
    feed.written = 3  # the job host gave it
    link.held = False
    link.on_readable()
    assert [sqn for sqn, *_ in link.queue] == [1, 2, 3, 4, 5]
    assert link.queue[3][3] is GIVEN and link.queue[4][3] is GIVEN
    assert link.duplicates == 1 and link.eos == 5
    assert feed.contents() == block(1) + block(4) + block(5)


def test_a_frame_arriving_in_pieces_is_read_the_usual_way():
    producer, link, feed = feeding()
    whole = frame(1)
    producer.sendall(whole[:1000])
    link.on_readable()
    assert not link.queue
    producer.sendall(whole[1000:] + frame(2))
    link.on_readable()
    assert bytes(link.queue[0][3]) == block(1) and link.held
    feed.written = 1
    link.held = False
    link.on_readable()
    assert link.queue[1][3] is GIVEN and feed.contents() == block(2)


def test_a_malformed_frame_or_the_end_of_the_connection_is_noticed_while_feeding():
    producer, link, _feed = feeding()
    producer.sendall(encode(Kind.DATA, 99, 1, block(1)))  # another pipe's frame
    with pytest.raises(ProtocolError, match="malformed frame"):
        link.on_readable()
    producer, link, _feed = feeding()
    producer.close()
    assert link.on_readable() is False and link.sock is None


def _waiting(link: InputLink) -> int:
    count = array.array("i", [0])
    assert link.sock is not None
    fcntl.ioctl(link.sock.fileno(), termios.FIONREAD, count, True)
    return count[0]


# -- RUN frames: small fixed-size blocks under one header -----------------------------------
def plain_batch(first: int, last: int, size: int = 8) -> list[bytes]:
    """An output batch as the job host builds it: a header and a payload per block."""
    parts = []
    for sqn in range(first, last + 1):
        parts += [HEADER.pack(Kind.DATA, 0, 4, sqn, size), bytes([sqn % 251]) * size]
    return parts


def test_a_plain_batch_of_small_blocks_becomes_runs_and_anything_else_does_not():
    runs = run_frames(plain_batch(1, 600), 4, 8)
    assert runs is not None
    headers = [HEADER.unpack(part) for part in runs if len(part) == HEADER_SIZE]
    # 256 blocks at most per run (flags = blocks - 1), numbered on from the first
    assert [(k, f, s, n) for k, f, _p, s, n in headers] == [
        (Kind.RUN, 255, 1, 2048),
        (Kind.RUN, 255, 257, 2048),
        (Kind.RUN, 87, 513, 704),
    ]
    flagged = plain_batch(1, 3)
    flagged[2] = HEADER.pack(Kind.DATA, 0x01, 4, 2, 8)
    skipped = plain_batch(1, 3)
    skipped[2:4] = [HEADER.pack(Kind.SKIP, 0, 4, 2, 0)]
    numbered_apart = plain_batch(1, 2) + plain_batch(5, 5)
    for batch in (flagged, skipped, numbered_apart, plain_batch(1, 3, size=9)):
        assert run_frames(batch, 4, 8) is None


def test_runs_arrive_as_the_blocks_they_carry_whole_split_or_partly_known():
    out, inp = OutputLink(4, 10000, 1 << 24), InputLink(4, 1)
    out.run_block = 8
    a, b = connect(out, inp)
    for sqn in range(1, 301):
        out.add(Kind.DATA, sqn, bytes([sqn % 251]) * 8)
    out.flush()
    assert len(out.replay[0][2]) < 600  # sent as runs, not one header per block
    pump(out, inp)
    assert [(sqn, bytes(p)) for sqn, _k, _f, p in inp.queue] == [
        (n, bytes([n % 251]) * 8) for n in range(1, 301)
    ]
    # after a reconnection the producer sends again every batch not acknowledged, whole: the
    # blocks already here are dropped one by one, even inside a run
    a.close()
    b.close()
    out.detach()
    inp.detach()
    inp.queue.clear()
    inp.next_sqn = 151  # as if blocks 151.. had been lost with the connection
    for sqn in range(301, 311):
        out.add(Kind.DATA, sqn, bytes([sqn % 251]) * 8)
    out.flush()
    connect(out, inp, resume_from=151)
    pump(out, inp)
    assert [(sqn, bytes(p)) for sqn, _k, _f, p in inp.queue] == [
        (n, bytes([n % 251]) * 8) for n in range(151, 311)
    ]
    assert inp.duplicates == 150  # 1..150, the first 150 blocks of the first run


def test_a_run_split_across_reads_and_a_malformed_run():
    producer, consumer = socket.socketpair()
    inp = InputLink(4, 1)
    inp.attach(consumer, 0, "test")
    run = HEADER.pack(Kind.RUN, 2, 4, 1, 24) + b"a" * 8 + b"b" * 8 + b"c" * 8
    producer.sendall(run[:20])
    inp.on_readable()
    producer.sendall(run[20:])
    inp.on_readable()
    assert [(sqn, bytes(p)) for sqn, _k, _f, p in inp.queue] == [
        (1, b"a" * 8),
        (2, b"b" * 8),
        (3, b"c" * 8),
    ]
    # blocks before a malformed run in the same read still count: a replay cannot repeat them
    producer.sendall(
        encode(Kind.DATA, 4, 4, b"d" * 8) + HEADER.pack(Kind.RUN, 2, 4, 5, 25) + b"x" * 25
    )
    with pytest.raises(ProtocolError, match="malformed run"):
        inp.on_readable()
    assert inp.next_sqn == 5 and inp.received == 4 and len(inp.queue) == 4


def test_run_lengths_small_blocks_up_to_64_kib_big_ones_up_to_256_kib():
    sizes = [8, 4096, 16 * 1024 - 1, 16 * 1024, 64 * 1024, 128 * 1024, 256 * 1024, 1 << 20]
    assert [run_length(size) for size in sizes] == [256, 16, 4, 16, 4, 2, 1, 1]


def test_a_run_of_big_blocks_arrives_as_one_bytes_per_block_whole_or_split():
    size = 64 * 1024
    out, inp = OutputLink(4, 10_000, 64 << 20), InputLink(4, 1)
    out.run_block = size
    a, _ = connect(out, inp)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    blocks = [os.urandom(size) for _ in range(9)]
    for sqn, block in enumerate(blocks, 1):
        out.add(Kind.DATA, sqn, block)
    out.flush()
    headers = [HEADER.unpack(p) for p in out.replay[0][2] if len(p) == HEADER_SIZE]
    assert [(k, f, s) for k, f, _p, s, _n in headers] == [
        (Kind.RUN, 3, 1),
        (Kind.RUN, 3, 5),
        (Kind.RUN, 0, 9),
    ]
    pump(out, inp)
    assert sqns(inp) == list(range(1, 10))
    assert [item[3] for item in inp.queue] == blocks
    assert all(type(item[3]) is bytes for item in inp.queue)
    # a run not wholly arrived is read the usual way; one partly known is deduplicated
    run = HEADER.pack(Kind.RUN, 3, 4, 8, 4 * size) + b"".join(blocks[:4])
    a.sendall(run[: HEADER_SIZE + size + 10])
    inp.on_readable()
    a.sendall(run[HEADER_SIZE + size + 10 :])
    for _ in range(4):
        inp.on_readable()
    assert sqns(inp) == list(range(1, 12)) and inp.duplicates == 2
    assert [item[3] for item in inp.queue][9:] == blocks[2:4]


def test_runs_of_big_blocks_go_into_the_program_pipe_whole_or_wait():
    producer, link, feed = feeding(limit=6)
    first, second = (run_frames(plain_batch(n, n + 3, size=BIG), 4, BIG) for n in (1, 5))
    assert first is not None and second is not None  # two runs of 4 blocks of 32 KiB
    producer.sendall(b"".join(first + second))
    link.on_readable()
    # the first run of 4 fits in the room of 6, the second waits in the socket, whole
    assert [payload is GIVEN for *_, payload in link.queue] == [True] * 4
    assert link.held and _waiting(link) == HEADER_SIZE + 4 * BIG
    feed.done = 4
    link.queue.clear()
    assert link.may_read()
    link.held = False
    link.on_readable()
    assert len(link.queue) == 4 and feed.written == 8
    assert feed.contents() == b"".join(bytes([n % 251]) * BIG for n in range(1, 9))


def test_runs_of_small_blocks_go_into_the_program_pipe_whole_or_wait():
    producer, link, feed = feeding(limit=20)
    feed.block_size = 4096
    small = [bytes([n % 251]) * 4096 for n in range(1, 33)]
    runs = run_frames(plain_batch(1, 32, size=4096), 4, 4096)
    assert runs is not None  # two runs of 16 blocks
    producer.sendall(b"".join(runs))
    link.on_readable()
    # the first run fits in the program's room, the second (16 more than 20 - 16) waits whole
    assert [payload is GIVEN for *_, payload in link.queue] == [True] * 16
    assert link.held and _waiting(link) == HEADER_SIZE + 16 * 4096
    feed.done = 4
    assert not link.may_read()  # room for 8: not for the run of 16 (no wake-up for nothing)
    feed.done = 16
    link.queue.clear()
    link.held = False
    link.on_readable()
    assert len(link.queue) == 16 and feed.written == 32
    assert feed.contents() == b"".join(small)


def test_runs_longer_than_the_program_may_hold_are_read_not_waited_for():
    producer, link, feed = feeding(limit=8)
    feed.block_size = 4096
    runs = run_frames(plain_batch(1, 32, size=4096), 4, 4096)
    assert runs is not None
    half = len(runs) // 2
    producer.sendall(b"".join(runs[:half]))
    link.on_readable()
    producer.sendall(b"".join(runs[half:]))  # with blocks queued: still read, not held
    for _ in range(4):
        link.on_readable()
    assert not link.held and [sqn for sqn, *_ in link.queue] == list(range(1, 33))
    assert not any(payload is GIVEN for *_, payload in link.queue)
    assert feed.contents() == b""  # the job host gives them to the program (run_batch)
