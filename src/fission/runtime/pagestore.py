"""Bytes kept without copying them: page references in pipes of our own, filled by tee(2).

An executable's big output blocks go from its pipe straight into a socket (splice), and the
replay buffer must keep them until the consumer acknowledges them. Copying them out for that
was the largest cost left in the job host of an executable in the middle of a chain (64 KiB
blocks). Instead, tee duplicates them into a store pipe, which costs a reference per page;
they wait there, in order, until acknowledged (spliced to /dev/null) or needed again (read).

A pipe holds at most 1 MiB for a normal user (/proc/sys/fs/pipe-max-size), so a store chains
a few. It takes nothing more (the caller copies instead) past LIMIT bytes, which bounds what
it takes of a normal user's pipe pages (pipe-user-pages-soft, 64 MiB by default, shared with
the programs' own pipes), or once Linux gives no more (a user past that limit gets pipes of
two pages).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from fission.runtime.pipeio import read_exactly

#: Most bytes one store keeps; beyond, the replay buffer holds copies.
LIMIT = 4 * 1024 * 1024
#: Bytes each store pipe is asked to hold; one that gets less than MIN_PIPE is not used.
PIPE_SIZE = 1 << 20
MIN_PIPE = 256 * 1024

_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Python >= 3.10 on Linux)
_F_GETPIPE_SZ = 1032


class Held(int):
    """In a replay buffer's parts: this many bytes, kept in the link's PageStore."""

    __slots__ = ()


class PageStore:
    """A FIFO of bytes duplicated out of other pipes: take, then drop or read, in order."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.held = 0  # bytes kept, in all pipes
        self._pipes: deque[list[int]] = deque()  # [read end, write end, bytes in it]
        self._spare: list[tuple[int, int]] = []  # emptied pipes, to be filled again
        self._exhausted = False  # Linux gave a pipe too small: use only those we have

    def take(self, source: int, length: int) -> int:
        """Duplicate up to ``length`` bytes at the head of pipe ``source`` without consuming
        them; how many were kept (0: none can be, the caller must copy them)."""
        length = min(length, self.limit - self.held)
        if length <= 0 or _tee_call is None:
            return 0
        fresh = False
        while True:
            if not self._pipes and not self._add_pipe():
                return 0
            tail = self._pipes[-1]
            done = _tee(source, tail[1], length)
            if done > 0:
                tail[2] += done
                self.held += done
                return done
            # the tail pipe is full (or, if it is empty, the source is): one more, once
            if fresh or tail[2] == 0 or not self._add_pipe():
                return 0
            fresh = True

    def drop(self, count: int) -> None:
        """Forget the first ``count`` bytes kept."""
        for fd, step in self._take_out(count):
            _drop_from(fd, step)

    def read(self, count: int) -> bytes:
        """The first ``count`` bytes kept, taken out of the store."""
        return b"".join(read_exactly(fd, step) for fd, step in self._take_out(count))

    def close(self) -> None:
        """Drop everything and give the pipes back to Linux."""
        for read_end, write_end, _ in self._pipes:
            _close(read_end, write_end)
        for read_end, write_end in self._spare:
            _close(read_end, write_end)
        self._pipes.clear()
        self._spare.clear()
        self.held = 0

    def _take_out(self, count: int) -> Iterator[tuple[int, int]]:
        """(pipe, bytes) to take out of the store's pipes in turn, for its first ``count``
        bytes; the caller takes them out before asking for the next."""
        assert count <= self.held, (count, self.held)
        pipes = self._pipes
        self.held -= count
        while count:
            head = pipes[0]
            step = min(count, head[2])
            yield head[0], step
            head[2] -= step
            count -= step
            if not head[2] and len(pipes) > 1:
                pipes.popleft()
                self._spare.append((head[0], head[1]))

    def _add_pipe(self) -> bool:
        if self._spare:
            read_end, write_end = self._spare.pop()
        elif self._exhausted:
            return False
        else:
            try:
                read_end, write_end = os.pipe2(os.O_CLOEXEC)
            except OSError:  # out of descriptors: copies will do
                self._exhausted = True
                return False
            try:
                size = fcntl.fcntl(write_end, _F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                size = fcntl.fcntl(write_end, _F_GETPIPE_SZ)
            if size < MIN_PIPE:
                _close(read_end, write_end)
                self._exhausted = True
                return False
        self._pipes.append([read_end, write_end, 0])
        return True


def _drop_from(fd: int, count: int) -> None:
    while count:
        try:
            count -= os.splice(fd, _devnull(), count, flags=os.SPLICE_F_NONBLOCK)
        except OSError:  # (a /dev/null that cannot be spliced to)
            count -= len(os.read(fd, count))


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@functools.cache
def _devnull() -> int:
    return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)


def _tee(source: int, target: int, length: int) -> int:
    """tee(2), never waiting: bytes duplicated, or 0 if none could be (target full)."""
    assert _tee_call is not None
    while True:
        done = _tee_call(source, target, length, os.SPLICE_F_NONBLOCK)
        if done >= 0:
            return done
        if ctypes.get_errno() != errno.EINTR:
            return 0


def _load_tee() -> Any:
    try:
        call = ctypes.CDLL(None, use_errno=True).tee
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
    call.restype = ctypes.c_ssize_t
    return call


_tee_call = _load_tee()

#: Whether this system can keep bytes without copying them (Linux's tee).
AVAILABLE = _tee_call is not None
