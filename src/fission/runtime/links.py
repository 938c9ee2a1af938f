"""The two ends of a pipe inside a job host: credit, batching, replay, acknowledgement, dedup.

:class:`OutputLink` (producer end)
    Frames are collected into a batch and written with one syscall. Every batch is kept in the
    *replay buffer* until the consumer acknowledges it; the buffer is the credit window, so a
    slow consumer stops its producer and memory stays bounded (``window_blocks`` blocks and
    ``window_bytes`` bytes). On a new connection (the consumer restarted elsewhere, or the link
    dropped) everything unacknowledged from the consumer's resume point is sent again.

:class:`InputLink` (consumer end)
    Parses frames out of the byte stream, drops sequence numbers it already has (duplicates
    after a replay), counts gaps, records end-of-stream and sends cumulative acknowledgements.
    With a :class:`ProgramFeed` it moves big plain blocks from the socket straight into a
    program's pipe instead (``splice``: the bytes never pass through this process).

Both are used only by the job host's single I/O thread; neither blocks.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
import socket
import time
from collections import deque
from typing import Any, Final, NamedTuple, NoReturn, Protocol

from fission.core.errors import ProtocolError
from fission.runtime.framing import (
    HEADER,
    HEADER_SIZE,
    MAX_PAYLOAD,
    RUN_BLOCK_MAX,
    Kind,
    encode,
    run_length,
)
from fission.runtime.pagestore import Held, PageStore
from fission.runtime.pipeio import bytes_waiting, read_exactly

__all__ = ["GIVEN", "InputLink", "OutputLink", "ProgramFeed", "bytes_waiting", "run_frames"]

_DATA = int(Kind.DATA)
_SKIP = int(Kind.SKIP)
_EOS = int(Kind.EOS)
_ACK = int(Kind.ACK)
_CLOSE = int(Kind.CLOSE)
_RUN = int(Kind.RUN)
#: Frames whose payload is at least this big are sent by reference (gather I/O), not copied.
_BIG_PAYLOAD = 16 * 1024
_IOV_MAX = 512
#: send_spliced: splice never waits (the socket is non-blocking; the pipe holds the bytes).
_SPLICE_FLAGS = os.SPLICE_F_NONBLOCK
#: What splice says when it cannot move data between these two kinds of file at all.
_SPLICE_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})
#: A write offers the socket at most about this many bytes (its buffer holds 1 to 2 MiB).
_SEND_BYTES = 1024 * 1024
_RECV_SIZE = 256 * 1024
#: Reads per readiness event while full ones keep coming: big blocks come in bigger batches.
_READS_PER_TURN = 4
#: Silences between arrivals shorter than this are not worth keeping (seconds).
PAUSE_FLOOR = 0.05
#: How many of the longest silences an input keeps.
PAUSES_KEPT = 16
#: The payload queued for a block that went straight into a program's pipe (see ProgramFeed).
GIVEN: Final = memoryview(b"")


class ProgramFeed(Protocol):
    """A program's input pipe that an :class:`InputLink` may move blocks into itself."""

    #: the pipe's write end, the one block size moved this way, and the most blocks the
    #: program may hold (a run of more is never moved: it is read)
    fd: int
    block_size: int
    limit: int

    def room(self, received: int) -> int:
        """Blocks the program may take now, ``received`` being the last sqn this link has
        (0 while earlier blocks still wait in the queue: order comes first)."""
        ...

    def given(self, sqn: int) -> None:
        """Block ``sqn`` is in the program's pipe."""
        ...

    def write(self, data: bytes) -> None:
        """Write the rest of a block the usual way (waits for room in the pipe)."""
        ...

    def lost(self, given: int, size: int) -> NoReturn:
        """Only ``given`` bytes of a ``size``-byte block could be moved: the program's input
        is out of step, and its job must fail (and restart where its input was acknowledged)."""
        ...


class Spliced(NamedTuple):
    """Frames whose payloads wait in a pipe (see OutputLink.send_spliced)."""

    source: int  # the pipe's read end: its next bytes are the payloads, in order
    headers: list[bytes]  # the frames' headers
    lengths: list[int]  # and their payloads' lengths

    def read(self) -> list[Any]:
        """The frames as a batch: headers and payloads (read out of the pipe), alternately."""
        data = read_exactly(self.source, sum(self.lengths))
        return frame_parts(self.headers, self.lengths, data)


def frame_parts(headers: list[bytes], lengths: list[int], data: bytes) -> list[Any]:
    """Headers and views of ``data`` (the payloads of ``lengths``, in order), alternately."""
    view = memoryview(data)
    parts: list[Any] = []
    start = 0
    for header, length in zip(headers, lengths, strict=True):
        parts.append(header)
        parts.append(view[start : start + length])
        start += length
    return parts


class OutputLink:
    """Producer end of one pipe."""

    def __init__(self, pipe_id: int, window_blocks: int, window_bytes: int) -> None:
        self.pipe_id = pipe_id
        self.window_blocks = window_blocks
        self.window_bytes = window_bytes
        self.sock: socket.socket | None = None
        self.endpoint: str | None = None
        self.consumer_epoch = 0
        # current batch: byte strings (headers and payloads) not yet flushed. The job host's hot
        # loop appends to it directly (see JobHost); sizes are totalled once per batch.
        self.batch: list[bytes] = []
        self.batch_first = 0
        self.last_sqn = 0  # highest sqn handed to this link
        self.acked = 0  # consumer confirmed everything up to here
        self.replay: deque[tuple[int, int, list[bytes], int]] = deque()
        self.unacked_bytes = 0
        self.unsent: deque[memoryview] = deque()
        self.closed = False  # the consumer said it wants nothing more
        self.eos: int | None = None  # sqn announced as the last one
        self._ack_buffer = bytearray()
        #: The pipe's fixed block size if its blocks may travel in RUN frames (0: never).
        self.run_block = 0
        #: send_spliced works for this connection's kind (see may_splice).
        self.splice_ok = True
        #: Payloads of the replay buffer kept without copies (see send_spliced).
        self.store: PageStore | None = None

    # -- producing --------------------------------------------------------------------------
    def credit(self) -> int:
        """Blocks this link may still take (0 when the window in blocks or bytes is full).

        The byte window is checked per batch, so it may be exceeded by at most one batch.
        """
        if self.closed:
            return 1 << 30
        if self.unacked_bytes >= self.window_bytes:
            return 0
        return max(0, self.window_blocks - (self.last_sqn - self.acked))

    def has_credit(self) -> bool:
        return self.credit() > 0

    def add(self, kind: int, sqn: int, payload: bytes, flags: int = 0) -> None:
        """Queue one frame; it leaves with the next :meth:`flush`."""
        if self.closed:
            return
        if not self.batch:
            self.batch_first = sqn
        self.batch.append(HEADER.pack(kind, flags, self.pipe_id, sqn, len(payload)))
        if payload:
            self.batch.append(payload)
        self.last_sqn = sqn

    def send_now(self, kind: int, sqn: int, payload: bytes, flags: int = 0) -> None:
        """Write one frame at once, bookkeeping after the syscall (a slow job's block).

        Only when nothing else is queued, so order is kept; otherwise it is :meth:`add`.
        """
        sock = self.sock
        if sock is None or self.batch or self.unsent or self.closed:
            self.add(kind, sqn, payload, flags)
            self.flush()
            return
        frame = HEADER.pack(kind, flags, self.pipe_id, sqn, len(payload)) + payload
        try:
            written = sock.send(frame)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError:
            written = 0
            self._read_last_words()
            self.detach()
        self.last_sqn = sqn
        self.replay.append((sqn, sqn, [frame], len(frame)))
        self.unacked_bytes += len(frame)
        if written < len(frame) and self.sock is not None:
            self.unsent.append(memoryview(frame)[written:])

    def end(self, last_sqn: int) -> None:
        """Announce end-of-stream after ``last_sqn``."""
        if self.eos is None and not self.closed:
            self.eos = last_sqn
            if not self.batch:
                self.batch_first = last_sqn
            self.batch.append(encode(_EOS, self.pipe_id, last_sqn))

    def flush(self) -> None:
        """Move the batch into the replay buffer and start writing it."""
        if not self.batch:
            return
        parts = self.batch.copy()  # cleared in place: the host's hot loop holds its append
        self.batch.clear()
        if self.run_block and len(parts) > 2:
            parts = run_frames(parts, self.pipe_id, self.run_block) or parts
        size = sum(map(len, parts))
        if size < _BIG_PAYLOAD * len(parts) // 2:
            parts = [b"".join(parts)]
        last = self.eos if self.eos is not None and self.eos >= self.last_sqn else self.last_sqn
        self.replay.append((self.batch_first, last, parts, size))
        self.unacked_bytes += size
        if self.sock is not None:
            full = bool(self.unsent)  # the socket was full: the job host waits until it is not
            self.unsent.extend(memoryview(p) for p in parts)
            if not full:
                self.send_some()

    def send_some(self) -> bool:
        """Write what the socket takes now; True if everything was written.

        A write stops at about what a socket holds (each piece offered costs a little even if
        the socket takes none of it), and once the socket took less than offered it is full:
        the rest waits until the job host sees it writable.
        """
        sock = self.sock
        unsent = self.unsent
        while unsent and sock is not None:
            chunk = []
            offered = 0
            for piece in unsent:
                chunk.append(piece)
                offered += len(piece)
                if offered >= _SEND_BYTES or len(chunk) >= _IOV_MAX:
                    break
            try:
                written = sock.sendmsg(chunk)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                self._read_last_words()
                self.detach()
                return False
            full = written < offered
            while written:
                head = unsent[0]
                if written >= len(head):
                    written -= len(head)
                    unsent.popleft()
                else:
                    unsent[0] = head[written:]
                    written = 0
            if full:
                return False
        return not unsent

    def may_splice(self) -> bool:
        """Whether frames may go out by :meth:`send_spliced` now: connected, and nothing
        waiting to be written before them."""
        return (
            self.splice_ok
            and self.sock is not None
            and not self.batch
            and not self.unsent
            and not self.closed
            and self.eos is None
        )

    def send_spliced(self, spliced: Spliced, first: int, last: int) -> bool:
        """The frames of blocks ``first`` to ``last``, whose payloads are the next bytes
        waiting in the pipe ``spliced.source``: each header is written, then its payload
        moved from the pipe into the socket (splice: it does not pass through this process).

        The replay buffer keeps the payloads as page references (see PageStore), or as
        copies where the store is full. What the socket does not take now is read out of the
        pipe and queued. False (nothing taken out of the pipe) if the link may not splice
        now: the caller then sends ``spliced.read()`` as a batch.
        """
        if not self.may_splice():
            return False
        source, headers, lengths = spliced
        store = self.store
        if store is None:
            store = self.store = PageStore()
        sock = self.sock
        assert sock is not None
        fd = sock.fileno()
        parts: list[Any] = []  # for the replay buffer
        unsent: list[Any] = []
        flowing = True  # everything so far is in the socket
        broken = False
        last_frame = len(headers) - 1
        for index, (header, length) in enumerate(zip(headers, lengths, strict=True)):
            parts.append(header)
            if flowing:
                step = _send_piece(sock, header)  # (TCP: one segment with the payload)
                if step < len(header):
                    flowing = False
                    broken = step < 0
                    if not broken:
                        unsent.append(memoryview(header)[step:])
            elif not broken:
                unsent.append(header)
            left = length
            while flowing and left:
                kept = store.take(source, left)
                if not kept:
                    break  # the store is full: copies from here on
                left -= kept
                more = os.SPLICE_F_MORE if left or index < last_frame else 0
                moved, state = _splice_out(source, fd, kept, more)
                parts.append(Held(kept))
                if moved < kept:
                    flowing = False
                    if state is _Splice.UNSUPPORTED:
                        self.splice_ok = False  # not between these two: copies from now on
                    broken = state is _Splice.BROKEN
                    rest = read_exactly(source, kept - moved)  # (kept already: a copy to send)
                    if not broken:
                        unsent.append(rest)
            if left:
                flowing = False
                data = read_exactly(source, left)
                parts.append(data)
                if not broken:
                    unsent.append(data)
        size = sum(map(len, headers)) + sum(lengths)
        self.replay.append((first, last, parts, size))
        self.unacked_bytes += size
        self.last_sqn = last
        if broken:
            self._read_last_words()
            self.detach()
        elif unsent:
            self.unsent.extend(map(memoryview, unsent))
            self.send_some()
        return True

    # -- connection -------------------------------------------------------------------------
    def attach(self, sock: socket.socket, resume_from: int) -> None:
        """Use a freshly authenticated connection; resend the unacknowledged tail."""
        self.detach()
        sock.setblocking(False)
        self.sock = sock
        self.splice_ok = True
        self._ack_buffer.clear()
        self._unstore()
        self.unsent = deque(
            memoryview(part)
            for first, last, parts, _ in self.replay
            if last >= resume_from
            for part in parts
        )
        self.send_some()

    def detach(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self.unsent = deque()

    def on_readable(self) -> bool:
        """Read acknowledgements; False when the connection is gone."""
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self.detach()
            return False
        buffer = self._ack_buffer
        buffer += data
        offset = 0
        while len(buffer) - offset >= HEADER_SIZE:
            kind, _flags, pipe, sqn, length = HEADER.unpack_from(buffer, offset)
            if length or pipe != self.pipe_id or kind not in (_ACK, _CLOSE):
                self.detach()
                raise ProtocolError(
                    f"pipe {self.pipe_id}: consumer sent an unexpected frame (kind {kind}, "
                    f"pipe {pipe}, {length} bytes)"
                )
            offset += HEADER_SIZE
            if kind == _ACK:
                self.acknowledge(sqn)
            else:
                self.close()
        del buffer[:offset]
        return True

    def _read_last_words(self) -> None:
        """Before dropping a broken connection, take the acks and CLOSE the consumer sent.

        A consumer that finished says CLOSE and goes; our next write then fails. Without this,
        the CLOSE would be lost with the socket and we would keep reconnecting to nobody.
        """
        with contextlib.suppress(OSError, ProtocolError):
            while self.sock is not None and self.on_readable():
                pass

    def acknowledge(self, sqn: int) -> None:
        if sqn <= self.acked:
            return
        self.acked = sqn
        replay = self.replay
        store = self.store
        while replay and replay[0][1] <= sqn:
            _first, _last, parts, size = replay.popleft()
            self.unacked_bytes -= size
            if store is not None and store.held:
                held = sum(part for part in parts if type(part) is Held)
                if held:
                    store.drop(held)

    def _unstore(self) -> None:
        """Read the payloads kept in the store back into the replay buffer (to be sent
        again: the store can only give its bytes in order, and once)."""
        store = self.store
        if store is None or not store.held:
            return
        self.replay = deque(
            (first, last, [store.read(p) if type(p) is Held else p for p in parts], size)
            for first, last, parts, size in self.replay
        )

    def close(self) -> None:
        """The consumer finished: drop everything queued for it."""
        self.closed = True
        self.replay.clear()
        if self.store is not None:
            self.store.close()
            self.store = None
        self.unacked_bytes = 0
        self.batch.clear()
        self.unsent = deque()

    @property
    def done(self) -> bool:
        """Nothing more will or must be delivered on this link."""
        return self.closed or (self.eos is not None and self.acked >= self.eos and not self.batch)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("connected" if self.sock else "waiting")
        return (
            f"<OutputLink pipe={self.pipe_id} {state} last={self.last_sqn} acked={self.acked} "
            f"credit={self.window_blocks - (self.last_sqn - self.acked)}>"
        )


def run_frames(parts: list[Any], pipe_id: int, size: int) -> list[Any] | None:
    """A batch of header and payload pieces as RUN frames, if every frame in it is a plain
    DATA block of ``size`` bytes and they are numbered one after the other; else None."""
    if len(parts) % 2:
        return None
    headers, payloads = parts[0::2], parts[1::2]
    for header, payload in zip(headers, payloads, strict=True):
        if len(payload) != size or len(header) != HEADER_SIZE or header[0] != _DATA or header[1]:
            return None
    first = HEADER.unpack_from(headers[0])[3]
    if HEADER.unpack_from(headers[-1])[3] - first + 1 != len(payloads):
        return None
    most = run_length(size)
    frames: list[Any] = []
    for index in range(0, len(payloads), most):
        group = payloads[index : index + most]
        frames.append(HEADER.pack(_RUN, len(group) - 1, pipe_id, first + index, len(group) * size))
        frames.extend(group)
    return frames


class InputLink:
    """Consumer end of one pipe."""

    def __init__(self, pipe_id: int, block_count: int, max_payload: int = MAX_PAYLOAD) -> None:
        self.pipe_id = pipe_id
        self.block_count = block_count
        self.max_payload = max_payload
        self.sock: socket.socket | None = None
        self.producer_epoch = 0
        self.peer = ""
        self.queue: deque[tuple[int, int, int, Any]] = deque()  # (sqn, kind, flags, payload)
        self.next_sqn = 0  # 0 = never connected in this instance
        self.base = 0  # blocks up to here were done before this instance started
        self.eos: int | None = None
        self.closed = False  # we told the producer to stop
        self.ack_sent = 0
        self._ack_wanted = 0
        self._pending: list[bytes | memoryview] = []  # pieces of a frame spanning reads
        self._pending_size = 0
        self._big = False  # the last frame was big: read the next one on its own
        self.duplicates = 0
        self.gaps = 0
        self.received = 0
        # the longest silences between arrivals, as (start, end) in CLOCK_MONOTONIC (the same
        # clock in every process here): what a fault cost, seen from this end of the pipe
        self.pauses: list[tuple[float, float]] = []
        self._last_arrival = 0.0
        self._pause_floor = PAUSE_FLOOR
        #: An optional (ASYNC) pipe: blocks are taken as they come, not by round.
        self.optional = False
        #: Payload of the last DATA block taken (the "previous" gap policy repeats it).
        self.last_payload: bytes | None = None
        #: Queue payloads as views into the received data instead of copies (for a consumer
        #: that only writes them on, such as a program's pipe; a view keeps its read alive).
        self.views = False
        #: Where plain blocks in order may go without being read (their queue entry then
        #: carries GIVEN as its payload).
        self.feed: ProgramFeed | None = None
        #: Not to be read now (see _read_feeding); the job host releases it (may_read) when
        #: the program has room for ``_held_for`` blocks.
        self.held = False
        self._held_for = 1

    def attach(self, sock: socket.socket, producer_acked: int, peer: str) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        sock.setblocking(False)
        self.sock = sock
        self.peer = peer
        self.held = False
        self._pending = []
        self._pending_size = 0
        if self.next_sqn == 0:
            # A fresh consumer starts right after what the producer knows is safe.
            self.base = producer_acked
            self.next_sqn = producer_acked + 1
            self.ack_sent = producer_acked
        if self._ack_wanted:
            # a new producer instance must learn at once how far this consumer already is
            self.ack_sent = 0
            self.send_ack(self._ack_wanted)

    def detach(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None

    def on_readable(self) -> bool:
        """Read and queue blocks; False when the connection is gone."""
        sock = self.sock
        assert sock is not None
        if self.feed is not None:
            return self._read_feeding(sock, self.feed)
        budget = _READS_PER_TURN * _RECV_SIZE
        first = True
        while budget > 0:
            if self._big and not self._pending:
                taken = self._take_big_frame(sock, first)
                if taken is None:
                    return True  # nothing there
                first = False
                if not taken:
                    return False
                if taken > 0:
                    budget -= taken
                    continue
            data = self._receive(sock, _RECV_SIZE)
            if data is None:
                return True
            if not data:
                return False
            if first:
                self._arrived()
                first = False
            self._take(data)
            if len(data) < _RECV_SIZE:
                break  # the socket is empty: no need to ask again
            budget -= len(data)
        return True

    def _take_big_frame(self, sock: socket.socket, first: bool) -> int | None:
        """After a big frame, the next one read on its own: its header, then its payload
        into a bytes object of its own (read in a bigger piece, each block would be copied
        out of it once more). Its size if it was taken; 0 if the connection is gone, None if
        nothing was there; -1 to read on the usual way (not a big frame after all, or not all
        of it there yet)."""
        header = self._receive(sock, HEADER_SIZE)
        if not header:
            return None if header is None else 0
        if first:
            self._arrived()
        if len(header) < HEADER_SIZE:
            self._take(header)  # (the rest of it comes the usual way)
            return -1
        kind, flags, pipe, sqn, length = HEADER.unpack(header)
        if pipe != self.pipe_id or length > self.max_payload:
            self._check(pipe, length)
        if length < _BIG_PAYLOAD:
            self._big = False
            self._take(header)
            return -1
        if kind == _RUN and length // (flags + 1) >= _BIG_PAYLOAD:  # a run of big blocks
            size = self._run_block(flags, length)
            if bytes_waiting(sock.fileno()) >= length:
                return self._take_run(sock, sqn, flags + 1, size)
            self._take(header)  # (the usual way: a copy of each block out of the run)
            return -1
        try:
            payload = sock.recv(length)
        except (BlockingIOError, InterruptedError):
            payload = b""
        except OSError:
            self.detach()
            return 0
        if len(payload) < length:  # not all of it arrived yet: collected the usual way
            self._take(header)
            if payload:
                self._take(payload)
            return -1
        self._accept(kind, flags, sqn, payload)
        return HEADER_SIZE + length

    def _receive(self, sock: socket.socket, size: int) -> bytes | None:
        """Up to ``size`` bytes; None if there are none yet; b"" (detached) if it is gone."""
        try:
            data = sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b""
        if not data:
            self.detach()
        return data

    def _take_run(self, sock: socket.socket, sqn: int, count: int, size: int) -> int:
        """The blocks of a RUN frame whose header was read and whose payload has wholly
        arrived, each read into a bytes object of its own; its size, or 0 if the connection
        is gone."""
        for index in range(count):
            try:
                block = sock.recv(size)
                while len(block) < size:  # (it is all there: only a signal could cut it)
                    piece = sock.recv(size - len(block))
                    if not piece:
                        raise OSError("connection closed inside a run")
                    block += piece
            except OSError:
                self.detach()
                return 0
            self._accept(_DATA, 0, sqn + index, block)
        return HEADER_SIZE + count * size

    def may_read(self) -> bool:
        """Whether a held link may be read again: its program has room for what waits, or
        nothing is left to do before more is read."""
        if not self.queue or self.feed is None:
            return True
        return self.feed.room(self.next_sqn - 1) >= self._held_for

    def _read_feeding(self, sock: socket.socket, feed: ProgramFeed) -> bool:
        """:meth:`on_readable` with a feed: frame by frame, moving every plain block (or run of
        them) that has wholly arrived, comes in order and fits in the program's room from the
        socket into its pipe. Any other frame (another kind, a duplicate, a gap, one not wholly
        arrived yet) is read and queued as usual, and moving goes on once the program has it.

        With no room while blocks it has not done are queued, the link is ``held``: the job
        host stops watching it and what follows stays in the socket until it can be moved.
        """
        fd = sock.fileno()
        size = feed.block_size
        big = size >= RUN_BLOCK_MAX
        # a run may come: look at each header before taking it (blocks too big for runs come
        # one per frame, and their header is taken at once)
        peek = run_length(size) > 1
        frame = HEADER_SIZE + size
        queue = self.queue
        waiting = bytes_waiting(fd)
        arrived = False
        while True:
            if self._pending:  # the rest of a frame being read the usual way, and no more
                want = self._pending_need() - self._pending_size
            elif waiting >= frame:
                if big and queue and feed.room(self.next_sqn - 1) <= 0:
                    return self._hold(1)
                try:
                    header = sock.recv(HEADER_SIZE, socket.MSG_PEEK if peek else 0)
                except (BlockingIOError, InterruptedError):
                    return True
                except OSError:
                    header = b""
                if len(header) < HEADER_SIZE:
                    if peek or not header:
                        want = 1  # (the usual way sees what happened)
                        header = b""
                else:
                    kind, flags, pipe, sqn, length = HEADER.unpack(header)
                    count = flags + 1 if kind == _RUN else 1
                    plain = (
                        sqn == self.next_sqn
                        and count <= feed.limit
                        and pipe == self.pipe_id
                        and length == count * size
                        # a small block alone costs more system calls than its copy
                        and (kind == _RUN or (kind == _DATA and not flags and big))
                    )
                    room = feed.room(self.next_sqn - 1) if plain else 0
                    if plain and room >= count and waiting >= HEADER_SIZE + length:
                        if peek:
                            sock.recv(HEADER_SIZE)
                        if not self._move(sock, feed, length):
                            self.detach()
                            return False
                        queue.extend((n, _DATA, 0, GIVEN) for n in range(sqn, sqn + count))
                        self.next_sqn = sqn + count
                        self.received += count
                        feed.given(sqn + count - 1)
                        waiting -= HEADER_SIZE + length
                        if not arrived:
                            self._arrived()
                            arrived = True
                        if self.feed is None:
                            return True  # (splice turned out impossible here: read as usual)
                        continue
                    if peek and plain and room < count and queue:
                        return self._hold(count)
                    # this frame the usual way; small blocks outside runs come many at a
                    # time: all that is there (moving goes on once the program has them)
                    want = min(waiting, HEADER_SIZE + length if big else _RECV_SIZE)
                if not peek and header:  # already read: the usual way takes it from there
                    if not arrived:
                        self._arrived()
                        arrived = True
                    waiting = max(0, waiting - len(header))
                    self._take(header)
                    continue
            elif waiting >= HEADER_SIZE and queue and feed.room(self.next_sqn - 1) <= 0:
                return self._hold(1)
            elif arrived and not waiting:
                return True  # what was there is read: the job host calls again for more
            else:
                want = min(max(waiting, 1), frame)  # an incomplete frame, or the end
            data = self._receive(sock, want)
            if data is None:
                return True
            if not data:
                return False
            if not arrived:
                self._arrived()
                arrived = True
            waiting = max(0, waiting - len(data))
            self._take(data)  # any other frame, or a piece of one: the usual way

    def _hold(self, blocks: int) -> bool:
        self.held = True
        self._held_for = blocks
        return True

    def _move(self, sock: socket.socket, feed: ProgramFeed, size: int) -> bool:
        """One payload, known to be waiting whole in the socket, into the program's pipe; False
        if the connection broke before any of it went (it will be sent again)."""
        moved = 0
        while moved < size:
            try:
                step = os.splice(sock.fileno(), feed.fd, size - moved)
            except BlockingIOError:
                break  # the program's pipe is full
            except OSError:
                self.feed = None  # splice is not possible between these two: copy from now on
                break
            if not step:
                break
            moved += step
        if moved < size:  # the pipe was full (the program's room said otherwise) or no splice
            pieces = []
            missing = size - moved
            with contextlib.suppress(OSError):
                while missing:
                    piece = sock.recv(missing)
                    if not piece:
                        break
                    pieces.append(piece)
                    missing -= len(piece)
            if missing:  # the connection broke inside the block
                if not moved:
                    return False  # the program has none of it: nothing is out of step
                feed.lost(size - missing, size)  # it has a part of it
            feed.write(b"".join(pieces))
        return True

    def _arrived(self) -> None:
        now = time.monotonic()
        if now - self._last_arrival > self._pause_floor and self._last_arrival:
            self._note_pause(self._last_arrival, now)
        self._last_arrival = now

    def _take(self, data: bytes) -> None:
        start = 0
        if self._pending:
            # A frame begun in an earlier read: collect its pieces without copying them, and
            # copy each byte once when it is whole (big blocks arrive over many reads).
            self._pending.append(data)
            self._pending_size += len(data)
            need = self._pending_need()
            if self._pending_size < need:
                return
            start = len(data) - (self._pending_size - need)
            self._complete_pending(memoryview(data)[:start])
        self._parse(data, start)

    def _note_pause(self, start: float, end: float) -> None:
        self.pauses.append((start, end))
        if len(self.pauses) > PAUSES_KEPT:
            self.pauses.remove(min(self.pauses, key=lambda p: p[1] - p[0]))
            self._pause_floor = min(p[1] - p[0] for p in self.pauses)

    def _pending_need(self) -> int:
        """Total size of the frame being collected (its header may still be incomplete)."""
        if self._pending_size < HEADER_SIZE:
            return HEADER_SIZE
        first = self._pending[0]
        head = first if len(first) >= HEADER_SIZE else b"".join(self._pending)
        length = HEADER.unpack_from(head, 0)[4]
        self._check(HEADER.unpack_from(head, 0)[2], length)
        return HEADER_SIZE + length

    def _complete_pending(self, last: memoryview) -> None:
        pieces = [memoryview(p) for p in self._pending[:-1]]
        pieces.append(last)
        self._pending = []
        self._pending_size = 0
        if len(pieces[0]) >= HEADER_SIZE:
            kind, flags, _pipe, sqn, _length = HEADER.unpack_from(pieces[0], 0)
            pieces[0] = pieces[0][HEADER_SIZE:]
            payload = b"".join(pieces)  # the one copy of this block
        else:  # the header itself was split across reads (rare)
            whole = b"".join(pieces)
            kind, flags, _pipe, sqn, _length = HEADER.unpack_from(whole, 0)
            payload = whole[HEADER_SIZE:]
        self._big = len(payload) >= _BIG_PAYLOAD
        self._accept(kind, flags, sqn, payload)

    def _check(self, pipe: int, length: int) -> None:
        if pipe != self.pipe_id or length > self.max_payload:
            self.detach()
            raise ProtocolError(
                f"pipe {self.pipe_id}: malformed frame from {self.peer} (pipe {pipe}, "
                f"{length} bytes)"
            )

    def _accept(self, kind: int, flags: int, sqn: int, payload: bytes) -> None:
        """One frame outside the fast loop (end of stream, errors, frames spanning reads)."""
        if kind == _DATA or kind == _SKIP:  # noqa: SIM109 - same test as the fast loop
            if sqn < self.next_sqn:
                self.duplicates += 1
                return
            if sqn > self.next_sqn:
                self.gaps += sqn - self.next_sqn
            self.queue.append((sqn, kind, flags, payload))
            self.received += 1
            self.next_sqn = sqn + 1
        elif kind == _RUN:
            size = self._run_block(flags, len(payload))
            for index in range(flags + 1):
                self._accept(_DATA, 0, sqn + index, payload[index * size : (index + 1) * size])
        elif kind == _EOS:
            self.eos = sqn
        else:
            self.detach()
            raise ProtocolError(
                f"pipe {self.pipe_id}: unexpected frame kind {kind} from {self.peer}"
            )

    def _run_block(self, flags: int, length: int) -> int:
        """The block size of a RUN frame of ``flags + 1`` blocks and ``length`` bytes."""
        size, rest = divmod(length, flags + 1)
        if rest or not size:
            self.detach()
            raise ProtocolError(
                f"pipe {self.pipe_id}: malformed run of {flags + 1} blocks in {length} bytes "
                f"from {self.peer}"
            )
        return size

    def _parse(self, data: bytes, offset: int) -> None:
        """Queue every whole frame of ``data`` from ``offset``; keep an incomplete tail."""
        end = len(data)
        payloads = memoryview(data) if self.views else data
        unpack = HEADER.unpack_from
        queue = self.queue
        expected = self.next_sqn
        first = expected
        pipe_id = self.pipe_id
        limit = self.max_payload
        last_length = -1
        try:
            while end - offset >= HEADER_SIZE:
                kind, flags, pipe, sqn, length = unpack(data, offset)
                last_length = length
                stop = offset + HEADER_SIZE + length
                if pipe != pipe_id or length > limit:
                    self._check(pipe, length)
                if stop > end:
                    break
                if (kind == _DATA or kind == _SKIP) and sqn == expected:  # noqa: SIM109
                    queue.append((sqn, kind, flags, payloads[offset + HEADER_SIZE : stop]))
                    expected = sqn + 1
                elif kind == _RUN and sqn == expected:
                    size = self._run_block(flags, length)
                    for start in range(offset + HEADER_SIZE, stop, size):
                        queue.append((expected, _DATA, 0, payloads[start : start + size]))
                        expected += 1
                else:
                    self.received += expected - first
                    self.next_sqn = first = expected
                    self._accept(kind, flags, sqn, data[offset + HEADER_SIZE : stop])
                    expected = first = self.next_sqn
                offset = stop
        finally:  # (also when a frame turns out malformed: what was queued counts)
            self.received += expected - first
            self.next_sqn = expected
        if last_length >= 0:
            self._big = last_length >= _BIG_PAYLOAD
        if offset < end:
            self._pending = [data[offset:] if offset else data]
            self._pending_size = end - offset

    def send_ack(self, sqn: int) -> None:
        """Acknowledge every block up to ``sqn`` (cumulative); retried if the socket is busy."""
        self._ack_wanted = max(self._ack_wanted, sqn)
        if self.sock is None or self._ack_wanted <= self.ack_sent:
            return
        try:
            self.sock.send(encode(_ACK, self.pipe_id, self._ack_wanted))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.detach()
            return
        self.ack_sent = self._ack_wanted

    def send_close(self) -> None:
        """Tell the producer to stop sending (we finished)."""
        self.closed = True
        if self.sock is None:
            return
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(0.5)
            self.sock.sendall(encode(_CLOSE, self.pipe_id, self._ack_wanted))
        except OSError:
            pass

    def __repr__(self) -> str:
        return (
            f"<InputLink pipe={self.pipe_id} next={self.next_sqn} queued={len(self.queue)} "
            f"eos={self.eos} acked={self.ack_sent}>"
        )


class _Splice(enum.Enum):
    """How a splice into a socket stopped short (see _splice_out)."""

    FULL = "the socket takes no more now"
    UNSUPPORTED = "splice cannot move bytes between these two"
    BROKEN = "the connection broke"


def _send_piece(sock: socket.socket, data: bytes) -> int:
    """Bytes of ``data`` the socket took now (more to follow); -1 if the connection broke."""
    try:
        return sock.send(data, socket.MSG_MORE)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError:
        return -1


def _splice_out(source: int, fd: int, length: int, more: int) -> tuple[int, _Splice | None]:
    """Move ``length`` bytes waiting in the pipe ``source`` into the socket ``fd``; the bytes
    moved, and why it stopped short (None if it did not)."""
    moved = 0
    while moved < length:
        try:
            step = os.splice(source, fd, length - moved, flags=_SPLICE_FLAGS | more)
        except (BlockingIOError, InterruptedError):
            return moved, _Splice.FULL
        except OSError as exc:
            if exc.errno in _SPLICE_UNSUPPORTED:
                return moved, _Splice.UNSUPPORTED
            return moved, _Splice.BROKEN
        if not step:
            return moved, _Splice.BROKEN
        moved += step
    return moved, None
