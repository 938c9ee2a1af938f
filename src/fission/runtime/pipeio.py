"""Reading pipes and sockets by the byte: how much waits, and exactly so much."""

from __future__ import annotations

import array
import fcntl
import os
import termios

__all__ = ["bytes_waiting", "read_exactly"]


def read_exactly(fd: int, length: int) -> bytes:
    """``length`` bytes from a pipe, waiting as needed (fewer only at its end)."""
    data = os.read(fd, length)
    if len(data) == length or not data:
        return data
    pieces = [data]
    missing = length - len(data)
    while missing:
        piece = os.read(fd, missing)
        if not piece:
            break
        pieces.append(piece)
        missing -= len(piece)
    return b"".join(pieces)


def bytes_waiting(fd: int) -> int:
    """Bytes received on a socket, or written into a pipe, and not read yet."""
    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count, True)
    return count[0]
