"""Frames on the wire: a fixed header and a payload. Sans-I/O: bytes in, frames out.

Header (little endian, 18 bytes)::

    kind u8 | flags u8 | pipe u32 | sqn u64 | length u32 | payload (length bytes)

``kind`` says what the frame is (a data block, an acknowledgement, ...); ``flags`` is the
block's head byte (reserved bits below, the rest belongs to the user). Frames are never
pickled: only a DATA payload is user data, and only the pipe's codec decodes it, only after the
peer authenticated.

A RUN frame carries consecutive DATA blocks of one size with no head bits, in one header:
``sqn`` is the first block's, ``flags`` the number of blocks less one, and the payload the
blocks one after the other. Fixed-size blocks under 256 KiB travel so (see ``run_frames`` and
``run_length``): the consumer reads one header for many blocks, and an executable's job host
moves a whole run into or out of the program's pipe without reading it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from fission.core.errors import ProtocolError

__all__ = [
    "FLAG_CORRUPTED",
    "FLAG_FINISHED",
    "FLAG_RESET",
    "HEADER",
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "RUN_BLOCK_MAX",
    "RUN_BYTES",
    "RUN_BYTES_BIG",
    "Frame",
    "FrameDecoder",
    "Kind",
    "encode",
    "run_length",
]

HEADER = struct.Struct("<BBIQI")
HEADER_SIZE = HEADER.size
#: Largest payload accepted from a peer; bigger lengths mean a corrupt or hostile stream.
MAX_PAYLOAD = 256 * 1024 * 1024

# Reserved head bits (the original's layout: most significant bits first).
FLAG_CORRUPTED = 0x80  # the block is a stand-in for lost data (a gap)
FLAG_RESET = 0x40  # kept for compatibility; numbering restarts are not used
FLAG_FINISHED = 0x20  # the last block of the stream


class Kind(IntEnum):
    """What a frame carries."""

    DATA = 1  # one block of a pipe: sqn, head flags, payload
    SKIP = 2  # the producer's round ``sqn`` had no output for this pipe
    EOS = 3  # end of stream: ``sqn`` is the last block the producer will send
    ACK = 4  # consumer -> producer: every block up to ``sqn`` is safe downstream
    CLOSE = 5  # consumer -> producer: send nothing more, I have finished
    RUN = 6  # flags + 1 consecutive DATA blocks of one size, without head bits, from ``sqn``
    HELLO = 16  # handshake messages: JSON payloads, see runtime.handshake
    CHALLENGE = 17
    PROOF = 18
    CONTROL = 32  # client <-> job host messages: JSON payloads, see runtime.control


_KINDS = frozenset(int(k) for k in Kind)


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    flags: int
    pipe: int
    sqn: int
    payload: bytes


#: Most bytes in a RUN frame of small blocks, and so most blocks: RUN_BYTES // block size.
RUN_BYTES = 64 * 1024
#: Blocks from this size on are big: their RUN frames hold up to RUN_BYTES_BIG bytes.
RUN_BLOCK_MAX = 16 * 1024
RUN_BYTES_BIG = 256 * 1024


def run_length(block_size: int) -> int:
    """How many blocks of ``block_size`` bytes a RUN frame holds at most (1: no runs).

    Small blocks: up to 64 KiB of them (at most 256), which a consumer reads in one piece.
    Big ones: up to 256 KiB, each read on its own; blocks of 256 KiB or more travel alone.
    """
    most = RUN_BYTES_BIG if block_size >= RUN_BLOCK_MAX else RUN_BYTES
    return max(1, min(256, most // max(1, block_size)))


def encode(kind: int, pipe: int, sqn: int, payload: bytes = b"", flags: int = 0) -> bytes:
    """One frame as bytes."""
    return HEADER.pack(kind, flags, pipe, sqn, len(payload)) + payload


class FrameDecoder:
    """Cuts a byte stream into frames; keeps an incomplete tail for the next ``feed``.

    Raises :class:`ProtocolError` on an unknown kind or an oversized length: the caller closes
    that connection, nothing else is affected.
    """

    __slots__ = ("_buffer", "max_payload")

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self._buffer = bytearray()
        self.max_payload = max_payload

    def feed(self, data: bytes) -> list[Frame]:
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        offset = 0
        end = len(buffer)
        unpack = HEADER.unpack_from
        while end - offset >= HEADER_SIZE:
            kind, flags, pipe, sqn, length = unpack(buffer, offset)
            if kind not in _KINDS:
                raise ProtocolError(f"unknown frame kind {kind}")
            if length > self.max_payload:
                raise ProtocolError(f"frame of {length} bytes exceeds the {self.max_payload} limit")
            stop = offset + HEADER_SIZE + length
            if stop > end:
                break
            frames.append(Frame(kind, flags, pipe, sqn, bytes(buffer[offset + HEADER_SIZE : stop])))
            offset = stop
        del buffer[:offset]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame waiting for more data."""
        return len(self._buffer)
